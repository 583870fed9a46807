"""LTI 1.3 Advantage tool: schools register their LMS platforms; the LMS launches fermonitor (OIDC login, signed
id token), adds links to lessons (deep linking), shares course rosters (names and roles) and receives attendance
scores (assignments and grades). The protocol work is done by pylti1p3 (the maintained `pylti1p3next`
distribution); what fermonitor does with a launch lives in `services`.
"""

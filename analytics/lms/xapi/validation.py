"""Statements are plain dicts; this checks them against the xAPI Data specification (1.0.3, with 2.0's additions)
before they are queued, so a statement an LRS would reject never reaches the outbox.

It covers what a conformant LRS checks on the structures fermonitor writes and reads: required properties,
unknown properties, UUIDs, IRIs, language maps, exactly one inverse functional identifier per agent, result
scores and durations, context activities, extensions keyed by IRIs, timestamps with a time zone. (Interaction
activity definitions and attachments are refused rather than checked: fermonitor sends neither.)

The tests also validate every statement with ralph's pydantic models and have a real LRS accept it.
"""

import re
from datetime import datetime

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
_IRL = re.compile(r"^https?://[^\s/]+[^\s]*$")
# A primary language subtag of 2-3 letters (or a private-use/grandfathered x-/i- tag), then any subtags.
_LANGUAGE_TAG = re.compile(r"^(?:[A-Za-z]{2,3}|[xXiI])(?:-[A-Za-z0-9]{1,8})*$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")

STATEMENT_KEYS = {
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
}
AGENT_KEYS = {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
ACTIVITY_DEFINITION_KEYS = {"name", "description", "type", "moreInfo", "extensions"}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
CONTEXT_KEYS = {
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "contextAgents",
    "contextGroups",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
}
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}


class StatementError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class _Check:
    def __init__(self):
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def keys(self, value, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> bool:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return False
        for key in sorted(set(value) - allowed):
            self.fail(f"{path}.{key}", "is not an xAPI property here")
        for key in required:
            if key not in value:
                self.fail(f"{path}.{key}", "is required")
        return True

    def uuid(self, value, path: str) -> None:
        if not isinstance(value, str) or not _UUID.match(value):
            self.fail(path, f"must be a lowercase RFC 4122 UUID, not {value!r}")

    def iri(self, value, path: str) -> None:
        if not isinstance(value, str) or not _IRI.match(value):
            self.fail(path, f"must be an absolute IRI, not {value!r}")

    def irl(self, value, path: str) -> None:
        if not isinstance(value, str) or not _IRL.match(value):
            self.fail(path, f"must be an http(s) URL, not {value!r}")

    def text(self, value, path: str) -> None:
        if not isinstance(value, str):
            self.fail(path, "must be a string")

    def boolean(self, value, path: str) -> None:
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")

    def language_map(self, value, path: str) -> None:
        if not isinstance(value, dict) or not value:
            self.fail(path, "must be a non-empty language map")
            return
        for tag, text in value.items():
            if not _LANGUAGE_TAG.match(tag):
                self.fail(f"{path}.{tag}", "is not an RFC 5646 language tag")
            self.text(text, f"{path}.{tag}")

    def extensions(self, value, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return
        for key in value:
            self.iri(key, f"{path} key")

    def timestamp(self, value, path: str) -> None:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(path, f"must be an ISO 8601 timestamp, not {value!r}")
        elif parsed.tzinfo is None:
            self.fail(path, "must carry a time zone (xAPI 2.0 requires it)")

    # --- structures -----------------------------------------------------------------------------------------

    def agent(self, value, path: str, *, group_ok: bool = True) -> None:
        if isinstance(value, dict) and value.get("objectType") == "Group":
            if not group_ok:
                self.fail(path, "must be an Agent")
                return
            self.group(value, path)
            return
        if not self.keys(value, path, AGENT_KEYS):
            return
        if value.get("objectType", "Agent") != "Agent":
            self.fail(f"{path}.objectType", "must be Agent")
        if "name" in value:
            self.text(value["name"], f"{path}.name")
        present = [ifi for ifi in IFIS if ifi in value]
        if len(present) != 1:
            self.fail(path, f"must have exactly one identifier of {', '.join(IFIS)}, has {len(present)}")
        self._ifis(value, path)

    def group(self, value, path: str) -> None:
        if not self.keys(value, path, AGENT_KEYS | {"member"}):
            return
        present = [ifi for ifi in IFIS if ifi in value]
        if len(present) > 1:
            self.fail(path, "must have at most one identifier")
        if not present and not value.get("member"):
            self.fail(path, "an anonymous group must list its members")
        for n, member in enumerate(value.get("member", [])):
            self.agent(member, f"{path}.member[{n}]", group_ok=False)
        self._ifis(value, path)

    def _ifis(self, value, path: str) -> None:
        if "mbox" in value and (
            not isinstance(value["mbox"], str) or not re.match(r"^mailto:[^@\s]+@[^@\s]+$", value["mbox"])
        ):
            self.fail(f"{path}.mbox", "must be a mailto: IRI")
        if "mbox_sha1sum" in value and not _SHA1.match(str(value["mbox_sha1sum"])):
            self.fail(f"{path}.mbox_sha1sum", "must be 40 hex digits")
        if "openid" in value:
            self.iri(value["openid"], f"{path}.openid")
        if "account" in value:
            account = value["account"]
            if self.keys(account, f"{path}.account", {"homePage", "name"}, ("homePage", "name")):
                if "homePage" in account:
                    self.irl(account["homePage"], f"{path}.account.homePage")
                if "name" in account:
                    self.text(account["name"], f"{path}.account.name")
                    if account["name"] == "":
                        self.fail(f"{path}.account.name", "must not be empty")

    def activity(self, value, path: str) -> None:
        if not self.keys(value, path, {"objectType", "id", "definition"}, ("id",)):
            return
        if value.get("objectType", "Activity") != "Activity":
            self.fail(f"{path}.objectType", "must be Activity")
        self.iri(value.get("id"), f"{path}.id")
        definition = value.get("definition")
        if definition is None:
            return
        if not self.keys(definition, f"{path}.definition", ACTIVITY_DEFINITION_KEYS):
            return
        for key in ("name", "description"):
            if key in definition:
                self.language_map(definition[key], f"{path}.definition.{key}")
        if "type" in definition:
            self.iri(definition["type"], f"{path}.definition.type")
        if "moreInfo" in definition:
            self.irl(definition["moreInfo"], f"{path}.definition.moreInfo")
        if "extensions" in definition:
            self.extensions(definition["extensions"], f"{path}.definition.extensions")

    def statement_object(self, value, path: str) -> None:
        kind = value.get("objectType", "Activity") if isinstance(value, dict) else None
        if kind == "Activity":
            self.activity(value, path)
        elif kind in ("Agent", "Group"):
            self.agent(value, path)
        elif kind == "StatementRef":
            if self.keys(value, path, {"objectType", "id"}, ("id",)):
                self.uuid(value.get("id"), f"{path}.id")
        else:
            self.fail(
                path, f"objectType {kind!r} is not one fermonitor sends (Activity, Agent, StatementRef)"
            )

    def result(self, value, path: str) -> None:
        if not self.keys(value, path, RESULT_KEYS):
            return
        if "score" in value:
            score = value["score"]
            if self.keys(score, f"{path}.score", {"scaled", "raw", "min", "max"}):
                for key, number in score.items():
                    if isinstance(number, bool) or not isinstance(number, int | float):
                        self.fail(f"{path}.score.{key}", "must be a number")
                scaled = score.get("scaled")
                if isinstance(scaled, int | float) and not -1 <= scaled <= 1:
                    self.fail(f"{path}.score.scaled", "must be between -1 and 1")
        for key in ("success", "completion"):
            if key in value:
                self.boolean(value[key], f"{path}.{key}")
        if "response" in value:
            self.text(value["response"], f"{path}.response")
        if "duration" in value and (
            not isinstance(value["duration"], str) or not _DURATION.match(value["duration"])
        ):
            self.fail(f"{path}.duration", f"must be an ISO 8601 duration, not {value['duration']!r}")
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")

    def context(self, value, path: str) -> None:
        if not self.keys(value, path, CONTEXT_KEYS):
            return
        if "registration" in value:
            self.uuid(value["registration"], f"{path}.registration")
        if "instructor" in value:
            self.agent(value["instructor"], f"{path}.instructor")
        if "team" in value:
            self.group(value["team"], f"{path}.team")
        if "contextActivities" in value:
            activities = value["contextActivities"]
            if self.keys(activities, f"{path}.contextActivities", CONTEXT_ACTIVITY_KEYS):
                for key, items in activities.items():
                    for n, item in enumerate(items if isinstance(items, list) else [items]):
                        self.activity(item, f"{path}.contextActivities.{key}[{n}]")
        for key in ("revision", "platform"):
            if key in value:
                self.text(value[key], f"{path}.{key}")
        if "language" in value and not _LANGUAGE_TAG.match(str(value["language"])):
            self.fail(f"{path}.language", "is not an RFC 5646 language tag")
        if "statement" in value:
            self.statement_object({"objectType": "StatementRef", **value["statement"]}, f"{path}.statement")
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")


def validate(statement: dict) -> dict:
    """Return the statement unchanged, or raise StatementError listing every problem found."""
    check = _Check()
    if check.keys(statement, "statement", STATEMENT_KEYS, ("actor", "verb", "object")):
        if "id" in statement:
            check.uuid(statement["id"], "id")
        if "actor" in statement:
            check.agent(statement["actor"], "actor")
        verb = statement.get("verb")
        if verb is not None and check.keys(verb, "verb", {"id", "display"}, ("id",)):
            check.iri(verb.get("id"), "verb.id")
            if "display" in verb:
                check.language_map(verb["display"], "verb.display")
        if "object" in statement:
            check.statement_object(statement["object"], "object")
        if "result" in statement:
            check.result(statement["result"], "result")
        if "context" in statement:
            check.context(statement["context"], "context")
            activity_object = statement.get("object", {}).get("objectType", "Activity") == "Activity"
            if not activity_object and {"revision", "platform"} & set(statement["context"]):
                check.fail("context", "revision and platform are only allowed when the object is an Activity")
        if "timestamp" in statement:
            check.timestamp(statement["timestamp"], "timestamp")
        if "attachments" in statement:
            check.fail("attachments", "fermonitor sends no attachments")
    if check.problems:
        raise StatementError(check.problems)
    return statement

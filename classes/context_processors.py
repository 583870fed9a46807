def school(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.school_id is None:
        return {"current_school": None}
    return {"current_school": user.school}

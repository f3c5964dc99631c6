from portal.http import InvalidInput, int_field, str_field

from .services import MAX_CONTENT_CHARS


def template_fields(data: dict, *, partial: bool) -> dict:
    values = {}
    for name, max_length in (("title", 200), ("content", MAX_CONTENT_CHARS)):
        if name in data or not partial:
            values[name] = str_field(data, name, max_length=max_length, required=True, allow_blank=False)
    if "description" in data:
        values["description"] = str_field(data, "description", max_length=2000) or ""
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise InvalidInput("'is_active' must be true or false.", field="is_active")
        values["is_active"] = data["is_active"]
    if partial and not values:
        raise InvalidInput("Nothing to update: send title, description, content or is_active.")
    return values


def try_source(data: dict) -> int | None:
    """The maze a template try runs on: `{"source": "example"}` -> None, `{"game_id": n}` -> that game's id."""
    game_id = int_field(data, "game_id", low=1, high=2**63 - 1)
    if game_id is None and data.get("source", "example") != "example":
        raise InvalidInput('Send {"source": "example"} or {"game_id": <one of your games>}.', field="source")
    return game_id

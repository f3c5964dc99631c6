from portal.http import InvalidInput, int_field

from . import engine

MODES = ("manual", "lam")


def _odd_size(data: dict, name: str, default: int) -> int:
    value = int_field(data, name, low=engine.MIN_SIZE, high=engine.MAX_SIZE) or default
    if value % 2 == 0:
        raise InvalidInput(f"'{name}' must be odd (walls sit on even rows and columns).", field=name)
    return value


def game_create(data: dict) -> dict:
    mode = data.get("mode", "manual")
    if mode not in MODES:
        raise InvalidInput("'mode' must be 'manual' or 'lam'.", field="mode")
    germs = int_field(data, "germs", low=0, high=engine.MAX_GERMS)
    return {
        "width": _odd_size(data, "width", engine.DEFAULT_WIDTH),
        "height": _odd_size(data, "height", engine.DEFAULT_HEIGHT),
        "germs": 5 if germs is None else germs,
        "mode": mode,
        "template_id": int_field(data, "template_id", low=1, high=2**63 - 1),
    }


def template_choice(data: dict) -> int | None:
    if "template_id" not in data:
        raise InvalidInput("'template_id' is required (null for no template).", field="template_id")
    return int_field(data, "template_id", low=1, high=2**63 - 1)


DEFAULT_EVALUATION_GAMES = 10
DEFAULT_EVALUATION_SEED = 1
EVALUATION_MAX_SIZE = 41  # an autopilot game on a bigger board outlasts its oxygen on most prompts


def evaluation_create(data: dict, *, max_games: int) -> dict:
    """POST /api/maze/evaluations: which template, how many games, on which mazes."""
    template_id = int_field(data, "template_id", low=1, high=2**63 - 1, required=True)
    games = int_field(data, "games", low=1, high=max_games)
    germs = int_field(data, "germs", low=0, high=engine.MAX_GERMS)
    seed = int_field(data, "seed", low=0, high=2**53)
    fields = {
        "template_id": template_id,
        "game_count": DEFAULT_EVALUATION_GAMES if games is None else games,
        "width": _odd_size(data, "width", engine.DEFAULT_WIDTH),
        "height": _odd_size(data, "height", engine.DEFAULT_HEIGHT),
        "germ_count": 5 if germs is None else germs,
        "seed": DEFAULT_EVALUATION_SEED if seed is None else seed,
    }
    for name in ("width", "height"):
        if fields[name] > EVALUATION_MAX_SIZE:
            raise InvalidInput(f"'{name}' must be at most {EVALUATION_MAX_SIZE} for an evaluation.", field=name)
    return fields

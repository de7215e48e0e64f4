"""`report compare --by FIELD`: the comparison split by a per-item field the task keeps (MedQA's
USMLE step), with the same metrics, intervals and paired tests as the whole table, per group.

Each group: its number of examples, every system's metrics with 95% intervals (and the number
answered correctly and the unparseable answers), and the paired tests between stages on the
primary metric. A group with fewer than `min_group` examples gets its point values and counts but
no interval and no test: it says it is too small instead of printing a number. Holm's correction
runs over every test of every group (one family), since a reader scans all of them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: Below this many examples a group gets no interval or test (an exact McNemar or permutation test
#: on fewer than 6 pairs cannot reach p < 0.05 at all; 10 leaves a little room).
MIN_GROUP = 10


def field_values(field: str, ids: Sequence[str], rows: dict[str, dict[str, dict]]) -> dict[str, str]:
    """id -> the field's value, the same in every system's row (ValueError naming system and example)."""
    values = {}
    for system, by_id in rows.items():
        for item_id in ids:
            kept = by_id[item_id].get("fields") or {}
            if field not in kept:
                available = sorted(kept) or "none"
                raise ValueError(f"prediction {item_id!r} of system {system!r} has no field {field!r} (its fields: "
                                 f"{available}); fields come from the task's `fields:` through `data prepare` "
                                 "and `eval run`: prepare the data and answer it again")
            value = str(kept[field])
            if values.setdefault(item_id, value) != value:
                raise ValueError(f"field {field!r} of example {item_id!r} differs between systems "
                                 f"({values[item_id]!r} and {value!r}): the predictions come from different data")
    return values


def _accuracy_counts(rows: dict[str, dict], ids: list[str]) -> dict:
    return {"correct": sum(rows[i]["parsed"] == rows[i]["gold"] for i in ids),
            "unparsed": sum(rows[i]["parsed"] is None for i in ids)}


def _point_values(task: dict, ids: list[str], rows: dict[str, dict], metric_fn: Callable) -> dict:
    """A small group's values without intervals (the bootstrap needs no more than one resample)."""
    full = metric_fn(task, ids, rows, rounds=1, seed=0)
    out = {}
    for name, entry in full.items():
        if isinstance(entry, dict) and "value" in entry:
            out[name] = {"value": entry["value"]}
        elif name in ("n", "unparsed", "per_class_f1"):
            out[name] = entry
    return out


def split_by(task: dict, field: str, ids: list[str], rows: dict[str, dict[str, dict]], systems: list[str],
             primary: str, *, metric_fn: Callable, paired_fn: Callable, pairs: list[tuple[str, str]],
             holm_fn: Callable, min_group: int = MIN_GROUP, rounds: int = 10000, seed: int = 0) -> dict:
    """The `by` section of summary.json: one entry per value of `field`, in sorted order."""
    if min_group < 2:
        raise ValueError(f"--min-group must be at least 2, got {min_group}")
    values = field_values(field, ids, rows)
    groups = []
    for value in sorted(set(values.values())):
        group_ids = [i for i in ids if values[i] == value]
        n = len(group_ids)
        small = n < min_group
        per_system = {}
        for system in systems:
            if small:
                per_system[system] = _point_values(task, group_ids, rows[system], metric_fn)
            else:
                per_system[system] = metric_fn(task, group_ids, rows[system], rounds=rounds, seed=seed)
            if task["output"] != "free-text":
                per_system[system].update(_accuracy_counts(rows[system], group_ids))
        comparisons = []
        for a, b in pairs:
            if small:
                comparisons.append({"first": a, "second": b, "metric": primary, "p_value": None, "p_holm": None,
                                    "too_small": f"too small for the test (n={n} < {min_group})"})
            else:
                comparisons.append({"first": a, "second": b, "metric": primary,
                                    **paired_fn(task, primary, group_ids, rows[a], rows[b], rounds=rounds, seed=seed)})
        groups.append({"value": value, "n": n, "too_small": small, "per_system": per_system,
                       "comparisons": comparisons})
    tested = [c for g in groups for c in g["comparisons"] if c["p_value"] is not None]
    for comparison, adjusted in zip(tested, holm_fn([c["p_value"] for c in tested]) if tested else [], strict=True):
        comparison["p_holm"] = adjusted
    return {"field": field, "min_group": min_group, "groups": groups,
            "multiplicity": f"Holm step-down over the {len(tested)} tests of all groups on {primary}"}

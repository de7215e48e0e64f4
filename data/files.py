"""Writing files so that a failure never leaves a half-written one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, payload: bytes) -> None:
    """Write via a temporary file in the same folder, so a failure leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """A text cell a spreadsheet will show as text: a leading ' when it would start a formula
    (OWASP's advice). Numbers and other values are left as they are; only CSV needs this: JSONL,
    Parquet and HF files keep the exact text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _formula_mask(column):
    """Which cells of a text column start a formula: a check on the first byte of each cell, read
    straight from the arrow buffers (a regular expression over every cell's text took seconds on
    a million long answers)."""
    import numpy as np
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    starts = np.zeros(256, dtype=bool)  # a lookup table by first byte: one gather, no search
    starts[np.frombuffer("".join(FORMULA_STARTS).encode(), dtype=np.uint8)] = True
    masks = []
    for chunk in chunks:
        _validity, offsets, data = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        bounds = np.frombuffer(offsets, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
        filled = bounds[1:] > bounds[:-1]  # empty and null cells start nothing
        if data is None or not len(data) or not filled.any():
            masks.append(np.zeros(len(chunk), dtype=bool))
            continue
        data = np.frombuffer(data, dtype=np.uint8)
        # an empty cell's offset can be the end of the data: clipped, and masked out by `filled`
        masks.append(starts[data[np.minimum(bounds[:-1], len(data) - 1)]] & filled)
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _is_text(column) -> bool:
    import pyarrow as pa

    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


def has_formula_cells(table) -> bool:
    """Whether any text cell of a pyarrow Table or RecordBatch would start a formula. Numpy only:
    pyarrow imports pandas (~0.15 s) on its first Python-to-arrow conversion, and the report's read
    should not wait for that."""
    return any(_formula_mask(column).any() for column in table.columns if _is_text(column))


def neutralise_formula_table(table):
    """The same for every text column of a pyarrow Table, vectorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if _is_text(column):
            risky = pa.array(_formula_mask(column))
            if pc.any(risky).as_py():
                quote, empty = pa.scalar("'", column.type), pa.scalar("", column.type)
                column = pc.if_else(risky, pc.binary_join_element_wise(quote, column, empty), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)

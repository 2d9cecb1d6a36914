#!/usr/bin/env python3
"""Per-packet records read with pyarrow, an Arrow implementation independent of intstream's.

Input: a file of Kafka record values, each preceded by its length (4 bytes, little-endian), as
the export test fetched them from the topic. Each value must be one Arrow IPC stream.

Output (stdout), JSON lines:
  {"stream": i, "metadata": {...}, "fields": ["name:type[ not null]", ...], "batches": n}
      once per Kafka record (its schema, as pyarrow reads it)
  {"ts": "NANOSECONDS", "source_id": ..., "ip.src": ..., ...}
      once per row, every column by name; ts as a decimal string (exact int64), dictionary
      columns decoded to their text, lists as lists, nulls as null.

Usage: python3 read_records.py VALUES_FILE
"""
import json
import struct
import sys

import pyarrow as pa


def main(path):
    data = open(path, 'rb').read()
    pos = 0
    stream = 0
    out = sys.stdout
    while pos < len(data):
        (n,) = struct.unpack_from('<I', data, pos)
        pos += 4
        reader = pa.ipc.open_stream(pa.py_buffer(data[pos:pos + n]))
        pos += n
        schema = reader.schema
        batches = list(reader)
        out.write(json.dumps({
            'stream': stream,
            'metadata': {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()},
            'fields': [f'{f.name}:{f.type}' + ('' if f.nullable else ' not null') for f in schema],
            'batches': len(batches),
        }) + '\n')
        stream += 1
        for batch in batches:
            batch.validate(full=True)
            cols = {}
            for name in batch.schema.names:
                col = batch.column(name)
                if pa.types.is_timestamp(col.type):
                    cols[name] = [None if v is None else str(v) for v in col.cast(pa.int64()).to_pylist()]
                else:
                    cols[name] = col.to_pylist()
            for i in range(batch.num_rows):
                out.write(json.dumps({k: v[i] for k, v in cols.items()}) + '\n')


if __name__ == '__main__':
    main(sys.argv[1])

"""Closed-loop load on one scoring protocol, as ../shared/bench/serving_load.py measures v1:
1,000 sequential single-record requests over one connection (p50/p99), then 8 clients x 250.

    protocol_load.py URL KIND requests.json [metadata.json]   (KIND: v2 | mlflow)

For v2 the record becomes one tensor per column, with the datatypes of the model's metadata.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

url, kind = sys.argv[1], sys.argv[2]
records = json.loads(Path(sys.argv[3]).read_text())
meta = json.loads(Path(sys.argv[4]).read_text()) if kind == "v2" else {"inputs": []}
types = {i["name"]: i["datatype"] for i in meta["inputs"]}
u = urllib.parse.urlparse(url)


def body(rec: dict) -> str:
    if kind == "v2":
        inputs = [
            {"name": n, "datatype": t, "shape": [1], "data": [rec[n]]} for n, t in types.items()
        ]
        return json.dumps({"inputs": inputs})
    return json.dumps({"dataframe_records": [rec]})


bodies = [body(r) for r in records]


def client(n: int, lat: list) -> None:
    c = http.client.HTTPConnection(u.hostname, u.port)
    for i in range(n):
        t = time.perf_counter()
        c.request("POST", u.path, bodies[i % len(bodies)], {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        lat.append(time.perf_counter() - t)


lat: list = []
client(50, [])
client(1000, lat)
lat.sort()
p50, p99 = lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3
C, N = 8, 250
lats: list = [[] for _ in range(C)]
ths = [threading.Thread(target=client, args=(N, lats[i])) for i in range(C)]
t = time.perf_counter()
[x.start() for x in ths]
[x.join() for x in ths]
el = time.perf_counter() - t
print(f"p50_ms={p50:.2f} p99_ms={p99:.2f} rps_c8={C * N / el:.0f}")

"""A bare FastAPI app, the floor `bench.e2e` compares the service against.

    python -m bench.bare_app [--host 127.0.0.1] [--port 8001]

`POST /echo` reads the web chat's JSON body, checks its fields and returns a constant reply
of the web chat's shape: no engine, no database. Served by uvicorn as `intake serve` serves
the service (one process, no access log).
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(title="bare")

_REPLY = {"replies": [{"text": "收到，请问您的姓名？", "quick_replies": []}],
          "waiting_for": None, "duplicate": False}


@app.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.post("/echo")
async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return JSONResponse({"detail": f"body is not valid JSON: {exc}"}, status_code=400)
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in ("visitor_id", "text", "client_message_id")):
        return JSONResponse({"detail": "visitor_id, text and client_message_id are required"},
                            status_code=422)
    return JSONResponse(_REPLY)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run("bench.bare_app:app", host=args.host, port=args.port, workers=1,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

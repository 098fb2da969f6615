"""`intake serve`: the HTTP app, the channels and the outbox dispatcher under uvicorn."""

from __future__ import annotations

import sys


def serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    from bot.logs import configure_logging, uvicorn_log_config
    from bot.reports import regulatory
    from bot.settings import ProductsFileError, Settings, load_institution

    try:
        settings = Settings()
        load_institution(settings)  # checked before the workers start: one clear message
        regulatory.load(settings.regulatory_file)  # BadTable is a ValueError
    except ProductsFileError as exc:
        print(f"intake serve: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"intake serve: bad configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        print("intake serve: several workers need PostgreSQL; using one", file=sys.stderr)
        workers = 1
    uvicorn.run("bot.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                log_level=settings.log_level.lower(), access_log=False,
                log_config=uvicorn_log_config(settings))
    return 0

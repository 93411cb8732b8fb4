"""Watching dregsy run: task-run results and the things that read them.

`results` is the one model of what a task run did (image results, task runs); the sync
runner and the app produce it, and every reader consumes it through `events.Listener`:
the status board (`status`, for `/`, `/api/status` and `/readyz`), the Prometheus metrics
(`metrics`), the JSON run report (`report`) and the terminal progress (`progress`). `web`
serves the HTTP endpoint (aiohttp, imported only when `listen` is set).
"""

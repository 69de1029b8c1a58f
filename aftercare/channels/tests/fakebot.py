"""A fake Telegram Bot API on 127.0.0.1 for tests: nothing leaves the machine.

Implements what Aftercare calls (getMe, getUpdates, sendMessage, sendDocument, getFile,
the file download, setWebhook, deleteWebhook), answering as the Bot API does, and records
every call so tests can assert on what was sent. ``fail_sends`` makes sending answer 502,
as Telegram does during an outage.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "123456:TEST-token"
BOT_USERNAME = "aftercare_test_bot"


class FakeBotApi:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict]] = []
        self.sent: list[dict] = []  # sendMessage / sendDocument, in order
        self.updates: list[dict] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self.webhook: dict | None = None
        self.fail_sends = False
        self._ids = itertools.count(1000)
        self._update_ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeBotApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- building updates as Telegram sends them ----------------------------------------

    def message_update(
        self,
        chat_id: int,
        text: str = "",
        *,
        message_id: int | None = None,
        first_name: str = "Ivan",
        photo: bytes | None = None,
        document: tuple[str, str, bytes] | None = None,
        reply_to: dict | None = None,
        caption: str = "",
    ) -> dict:
        message: dict = {
            "message_id": message_id or next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
        }
        if text:
            message["text"] = text
        if caption:
            message["caption"] = caption
        if photo is not None:
            small = self.add_file("photos/small.jpg", photo[:10])
            big = self.add_file("photos/big.jpg", photo)
            message["photo"] = [
                {
                    "file_id": small,
                    "file_unique_id": small + "u",
                    "width": 9,
                    "height": 9,
                    "file_size": 10,
                },
                {
                    "file_id": big,
                    "file_unique_id": big + "u",
                    "width": 900,
                    "height": 900,
                    "file_size": len(photo),
                },
            ]
        if document is not None:
            name, mime, data = document
            fid = self.add_file(f"documents/{name}", data)
            message["document"] = {
                "file_id": fid,
                "file_unique_id": fid + "u",
                "file_name": name,
                "mime_type": mime,
                "file_size": len(data),
            }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return {"update_id": next(self._update_ids), "message": message}

    def add_file(self, path: str, data: bytes) -> str:
        file_id = f"F{next(self._ids)}"
        self.files[file_id] = (
            f"{path.rsplit('/', 1)[0]}/{file_id}-{path.rsplit('/', 1)[-1]}",
            data,
        )
        return file_id

    def queue(self, update: dict) -> dict:
        with self._lock:
            self.updates.append(update)
        return update

    def texts_to(self, chat_id: int) -> list[str]:
        return [s["text"] for s in self.sent if s["chat_id"] == str(chat_id) and "text" in s]

    # -- the server -----------------------------------------------------------------------

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, payload: dict | bytes) -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _params(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/json"):
                    return json.loads(raw or b"{}")
                if ctype.startswith("multipart/form-data"):
                    msg = BytesParser(policy=HTTP).parsebytes(
                        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
                    )
                    out = {}
                    for part in msg.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        filename = part.get_filename()
                        data = part.get_payload(decode=True)
                        out[name] = (
                            {"filename": filename, "data": data}
                            if filename
                            else (data.decode() if data is not None else "")
                        )
                    return out
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                prefix = f"/file/bot{api.token}/"
                if path.startswith(prefix):
                    wanted = path[len(prefix) :]
                    for file_path, data in api.files.values():
                        if file_path == wanted:
                            self.send_response(200)
                            self.send_header("Content-Length", str(len(data)))
                            self.end_headers()
                            self.wfile.write(data)
                            return
                    return self._reply(404, {"ok": False, "error_code": 404})
                return self._method(path, {})

            def do_POST(self) -> None:
                self._method(unquote(urlsplit(self.path).path), self._params())

            def _method(self, path: str, params: dict) -> None:
                prefix = f"/bot{api.token}/"
                if not path.startswith(prefix):
                    return self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                method = path[len(prefix) :]
                api.calls.append((method, params))
                handler = getattr(self, f"m_{method}", None)
                if handler is None:
                    return self._reply(
                        404, {"ok": False, "error_code": 404, "description": "Not Found"}
                    )
                return handler(params)

            def _ok(self, result) -> None:
                self._reply(200, {"ok": True, "result": result})

            def m_getMe(self, params) -> None:
                self._ok(
                    {
                        "id": 123456,
                        "is_bot": True,
                        "first_name": "Aftercare",
                        "username": BOT_USERNAME,
                    }
                )

            def m_getUpdates(self, params) -> None:
                offset = int(params.get("offset") or 0)
                with api._lock:
                    if offset:
                        api.updates = [u for u in api.updates if u["update_id"] >= offset]
                    pending = list(api.updates)
                self._ok(pending)

            def _sent(self, params, extra: dict) -> None:
                if api.fail_sends:
                    return self._reply(
                        502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
                    )
                chat_id = str(params.get("chat_id"))
                message_id = next(api._ids)
                record = {"chat_id": chat_id, "message_id": message_id, **extra}
                api.sent.append(record)
                self._ok(
                    {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": {"id": int(chat_id), "type": "private"},
                        **({"text": extra["text"]} if "text" in extra else {}),
                    }
                )

            def m_sendMessage(self, params) -> None:
                self._sent(params, {"text": params.get("text", "")})

            def m_sendDocument(self, params) -> None:
                doc = params.get("document") or {}
                self._sent(params, {"document": doc.get("filename"), "data": doc.get("data")})

            def m_getFile(self, params) -> None:
                file_id = params.get("file_id", "")
                if file_id not in api.files:
                    return self._reply(
                        400,
                        {
                            "ok": False,
                            "error_code": 400,
                            "description": "Bad Request: invalid file_id",
                        },
                    )
                file_path, data = api.files[file_id]
                self._ok(
                    {
                        "file_id": file_id,
                        "file_unique_id": file_id + "u",
                        "file_size": len(data),
                        "file_path": file_path,
                    }
                )

            def m_setWebhook(self, params) -> None:
                api.webhook = params
                self._ok(True)

            def m_deleteWebhook(self, params) -> None:
                api.webhook = None
                self._ok(True)

        return Handler

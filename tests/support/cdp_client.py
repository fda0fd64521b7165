"""Drive a real headless Chromium over the DevTools protocol, with the standard library only.

Just enough of RFC 6455 (client frames masked, server frames unmasked, fragmentation, ping) to
speak CDP over the browser's websocket, with flattened sessions (Target.attachToTarget
flatten=true), so that one connection carries the browser and the page.
"""
import base64
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import time

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket(object):
    def __init__(self, url, timeout=30.0):
        match = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not match:
            raise ValueError("not a ws:// URL: %r" % url)
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (path, host, port, key)).encode("ascii"))
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            response += chunk
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError("websocket handshake refused: %r" % head[:200])

    def _read(self, size):
        while len(self.buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self.buffer)))
            if not chunk:
                raise ConnectionError("websocket closed by the browser")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode("utf-8"))

    def recv(self):
        """The next text message (continuation frames joined), answering pings on the way."""
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return message.decode("utf-8")

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Chromium(object):
    """A headless Chromium with one page; every CDP event is kept in self.events."""

    def __init__(self, binary, profile_dir, width=1280, height=900, timeout=60.0):
        self.timeout = timeout
        self.events = []
        self.next_id = 0
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             "--remote-debugging-port=0", "--user-data-dir=%s" % profile_dir,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self.ws = WebSocket(self._devtools_url(), timeout=timeout)
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        except Exception:
            self.quit()
            raise

    def _devtools_url(self):
        deadline = time.time() + self.timeout
        seen = b""
        while time.time() < deadline:
            ready, _w, _x = select.select([self.proc.stderr], [], [], 0.5)
            if ready:
                line = self.proc.stderr.readline()
                if not line and self.proc.poll() is not None:
                    break
                seen += line
                match = re.search(rb"DevTools listening on (ws://\S+)", line)
                if match:
                    return match.group(1).decode("ascii")
            elif self.proc.poll() is not None:
                break
        raise RuntimeError("Chromium did not start its DevTools endpoint: %s" % seen.decode("utf-8", "replace")[-2000:])

    def call(self, method, params=None, session=None):
        """Send one command (to the page session when session is True) and return its result."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s failed: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self._event(reply)
        raise TimeoutError("no reply to %s" % method)

    def page(self, method, params=None):
        return self.call(method, params, session=True)

    def _event(self, event):
        self.events.append(event)
        if event.get("method") == "Page.javascriptDialogOpening":
            # An open dialog blocks the page; dismiss it (the test fails on the event anyway).
            self.ws.send(json.dumps({"id": 0, "sessionId": self.session, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}}))

    def wait_for(self, method, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while time.time() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self._event(json.loads(self.ws.recv()))
        raise TimeoutError("no %s event" % method)

    def evaluate(self, expression):
        result = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError("page script failed: %s" % result["exceptionDetails"])
        return result["result"].get("value")

    def quit(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc.stderr.close()


def load(browser, path, width=1280, height=900):
    """Open a file in the page; return the problems the page reported while loading and settling."""
    browser.events[:] = []
    for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
        browser.page(domain)
    browser.page("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                        "mobile": False})
    browser.page("Page.navigate", {"url": "file://%s" % path})
    browser.wait_for("Page.loadEventFired")
    browser.evaluate("1")  # one more round trip: events queued during load are read by now
    return problems(browser)


def problems(browser):
    """Dialogs, exceptions, console errors and error log entries (CSP violations among them)."""
    found = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params") or {}
        if method == "Page.javascriptDialogOpening":
            found.append("dialog %s: %s" % (params.get("type"), params.get("message")))
        elif method == "Runtime.exceptionThrown":
            found.append("exception: %s" % params.get("exceptionDetails", {}).get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console.%s: %s" % (params["type"], [a.get("value") for a in params.get("args", ())]))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append("log error: %s" % params["entry"].get("text"))
    return found

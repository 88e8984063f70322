"""A static site on 127.0.0.1 for the page-check benches: Python's http.server, quiet, on a free port."""
import http.server
import threading


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    """Serves `directory`; returns the server (`shutdown()` stops it) and its URL."""
    handler = lambda *args, **kwargs: Quiet(*args, directory=directory, **kwargs)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"

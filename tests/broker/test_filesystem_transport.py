"""The embedded broker never shows a reader a message that is still being written."""

import json
import os
import threading

from kombu import Connection

from core.broker import Transport


def _connection(folder):
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return Connection("filesystem://", transport=Transport, transport_options=options)


def test_every_message_file_a_reader_sees_is_complete(tmp_path):
    """A reader polling the folder while large messages are published only ever sees whole ones."""
    queue_dir = tmp_path / "queue"
    torn = []
    stop = threading.Event()

    def read_everything_visible():
        while not stop.is_set():
            for name in os.listdir(queue_dir):
                try:
                    data = (queue_dir / name).read_bytes()
                except FileNotFoundError:
                    continue
                try:
                    json.loads(data)
                except ValueError:
                    torn.append((name, len(data)))

    with _connection(tmp_path) as conn:
        channel = conn.channel()
        channel.queue_declare("q")
        reader = threading.Thread(target=read_everything_visible)
        reader.start()
        try:
            body = "x" * 200_000
            for i in range(200):
                channel.basic_publish(channel.prepare_message(json.dumps({"i": i, "body": body})), "", "q")
        finally:
            stop.set()
            reader.join()
        assert torn == []
        received = [json.loads(channel.basic_get("q").body)["i"] for _ in range(200)]
    assert sorted(received) == list(range(200))
    assert not list((tmp_path / "staging").iterdir()), "no partial file is left behind"

"""kombu's filesystem transport, with messages that appear whole.

kombu's own `_put` opens the final `*.msg` name and then writes into it, so a
worker listing the folder in between can move and read an empty file, fail to
decode it and lose the message. Here the message is written under a name the
reader ignores (in a sibling folder on the same filesystem) and renamed into
the queue folder: `rename` is atomic, so a reader sees all of it or nothing.
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        staging = os.path.join(os.path.dirname(os.path.normpath(self.data_folder_out)), "staging")
        os.makedirs(staging, exist_ok=True)
        partial = os.path.join(staging, name)
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

import json

from django.core.management.base import BaseCommand

from audit import checkpoints, merkle, trail
from audit.models import AuditEntry


class Command(BaseCommand):
    help = (
        "Walk the audit chain: exit 0 and 'ok N entries' when intact, else exit 1 naming the first broken entry. "
        "With --checkpoints and --public-key, also check the chain against the signed checkpoints."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", help="verify an export (JSON lines from /api/v1/audit/export/) instead of the database"
        )
        parser.add_argument("--checkpoints", metavar="DIR", help="a folder of signed checkpoints to check against")
        parser.add_argument("--public-key", metavar="FILE", help="the checkpoints' public key (audit_keygen)")
        parser.add_argument(
            "--origin", help="the origin every checkpoint must name (default: the key's name)", default=None
        )

    def handle(self, *args, **options):
        if bool(options["checkpoints"]) != bool(options["public_key"]):
            self.stderr.write("--checkpoints and --public-key go together")
            raise SystemExit(2)
        records = self._read_file(options["file"]) if options["file"] else None
        if isinstance(records, trail.Verification):
            result = records
        else:
            result = trail.walk(records) if records is not None else trail.verify()
        if not result.ok:
            self.stderr.write(f"broken at entry #{result.broken_seq}: {result.problem}")
            raise SystemExit(1)
        if options["checkpoints"]:
            self._check_points(options, records)
            self.stdout.write(f"ok {result.count} entries")
            self.stdout.write(f"ok {self.checked} checkpoints")
            return
        self.stdout.write(f"ok {result.count} entries")

    def _read_file(self, path):
        with open(path, encoding="utf-8") as f:
            try:
                return [json.loads(line) for line in f if line.strip()]
            except json.JSONDecodeError as exc:
                return trail.Verification(False, 0, None, f"not JSON lines: {exc}")

    def _check_points(self, options, records):
        try:
            verifier = checkpoints.load_verifier(options["public_key"])
            found = checkpoints.read_dir(options["checkpoints"], verifier)
        except checkpoints.CheckpointError as exc:
            self.stderr.write(f"inconsistent checkpoint: {exc}")
            raise SystemExit(1) from None
        if records is not None:
            leaves = (merkle.leaf_hash(r["hash"]) for r in records)
        else:
            rows = AuditEntry.objects.order_by("seq").values_list("hash", flat=True).iterator(chunk_size=5000)
            leaves = (merkle.leaf_hash(h) for h in rows)
        finding = checkpoints.verify(leaves, found, options["origin"] or verifier.name)
        if not finding.ok:
            self.stderr.write(f"inconsistent checkpoint: {finding.problem}")
            raise SystemExit(1)
        self.checked = finding.checkpoints

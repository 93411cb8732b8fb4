"""The quickstart's main job, for real: two local registries, sample images, a sync.

Starts a plain source registry and a target registry with Basic auth on loopback,
pushes sample images (two single-platform tags and a two-platform index) to the source,
writes a dregsy config, runs `dregsy -config=...` twice (a full copy, then a no-op), and
shows what landed in the target next to the source's digests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import skopeo  # noqa: E402
from tests.support.dregsy_cli import auth_value  # noqa: E402
from tests.support.registry import HtpasswdAuth, RegistryFactory  # noqa: E402
from tests.support.seed import seed_images  # noqa: E402

USER = ("demo", "demo-password")


def main() -> int:
    work = ROOT / ".demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    registries = RegistryFactory(work / "registries")
    try:
        source = registries("source")
        target = registries("target", auth=HtpasswdAuth({USER[0]: USER[1]}))
        print(f"== registries: source http://{source.host}, target http://{target.host} (auth)")
        seeded = seed_images(source, work / "layout")
        for ref, digest in seeded.digests.items():
            print(f"   seeded {source.host}/{ref}  {digest}")
        config = work / "config.yaml"
        config.write_text(
            f"""\
# written by scripts/demo.py
tasks:
  - name: demo-mirror
    verbose: true
    source:
      registry: {source.host}
    target:
      registry: {target.host}
      auth: {auth_value(*USER)}
    mappings:
      - from: demo/app
        to: mirror/demo/app
      - from: demo/multi
        to: mirror/demo/multi
"""
        )
        print(f"== config ({config}):\n{config.read_text()}")
        dregsy = [str(ROOT / ".venv" / "bin" / "dregsy"), f"-config={config}"]
        for attempt in ("first run: copies everything", "second run: nothing changed"):
            print(f"== dregsy -config={config}   ({attempt})", flush=True)
            status = subprocess.run(dregsy, check=False).returncode
            print(f"   exit status {status}")
            if status != 0:
                return status
        print("== what landed in the target (checked with skopeo inspect --raw):")
        ok = True
        for ref, digest in seeded.digests.items():
            got = skopeo.digest_of(f"{target.host}/mirror/{ref}", creds=USER)
            same = got == digest
            ok &= same
            mark = "same digest as the source" if same else f"DIFFERENT from {digest}"
            print(f"   {target.host}/mirror/{ref}  {got}  {mark}")
        return 0 if ok else 1
    finally:
        registries.stop_all()


if __name__ == "__main__":
    raise SystemExit(main())

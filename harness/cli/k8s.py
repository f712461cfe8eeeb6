"""``se-conformance k8s render --fleet FILE [--out DIR]``: the fleet as plain Kubernetes YAML.

Per SE a Deployment + Service + PVC of the SE image (APP_MODE and DB_TABLE_PREFIX from the fleet entry),
one PostgreSQL, the JWT public keys as a ConfigMap, and a Job that runs ``se-conformance run --fleet``
inside the cluster against the SEs' Services, its results on a PVC. docs/scaling.md: what was validated
here and what to check on a real cluster.
"""

from __future__ import annotations

import argparse
import re
import secrets
from pathlib import Path

from harness.errors import ConfigurationError
from harness.fleet.spec import load_fleet
from harness.k8s.keys import key_material
from harness.k8s.manifests import RenderOptions, render
from harness.k8s.write import write
from harness.plugin import options as opt

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DEFAULTS = RenderOptions()


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("k8s", help="Kubernetes manifests of a fleet (render)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    verbs = p.add_subparsers(dest="k8s_command", required=True, metavar="VERB")
    r = verbs.add_parser("render", help="write the manifests of a fleet file as plain YAML")
    r.add_argument("--fleet", type=Path, required=True, metavar="FILE", help="the fleet file (docs/fleet.md)")
    r.add_argument("--out", type=Path, default=Path("out/k8s"), help="output directory (default out/k8s)")
    r.add_argument("--namespace", default=DEFAULTS.namespace, help=f"namespace (default {DEFAULTS.namespace})")
    r.add_argument("--fleet-name", default=None, help="value of the se-conformance/fleet label (default: the "
                   "fleet file's name)")  # fmt: skip
    r.add_argument("--image", default=DEFAULTS.se_image, help=f"SE image (default {DEFAULTS.se_image})")
    r.add_argument("--suite-image", default=DEFAULTS.suite_image,
                   help=f"image with se-conformance installed, for the Job (default "
                        f"{DEFAULTS.suite_image})")  # fmt: skip
    r.add_argument("--postgres-image", default=DEFAULTS.postgres_image,
                   help=f"PostgreSQL image (default {DEFAULTS.postgres_image})")  # fmt: skip
    r.add_argument("--db-password", default=None, help="PostgreSQL password (default: a random one)")
    r.add_argument("--storage-class", default=None, help="storageClassName of every PVC (default: the cluster's)")
    r.add_argument("--profile", choices=opt.PROFILES, default="core", help="the Job's run --profile (default core)")
    p.set_defaults(handler=run)


def _label(value: str, what: str) -> str:
    if not DNS_LABEL.match(value):
        raise ConfigurationError(f"{what} {value!r} is not a Kubernetes name",
                                 expected="lowercase letters, digits and '-', at most 63")  # fmt: skip
    return value


def run(args: argparse.Namespace) -> int:
    fleet = load_fleet(args.fleet)
    opts = RenderOptions(
        namespace=_label(args.namespace, "--namespace"),
        fleet_name=_label(args.fleet_name or re.sub(r"[^a-z0-9-]+", "-", args.fleet.stem.lower()).strip("-")
                          or "fleet", "--fleet-name"),
        se_image=args.image, suite_image=args.suite_image, postgres_image=args.postgres_image,
        db_password=args.db_password or secrets.token_urlsafe(18), storage_class=args.storage_class,
        profile=args.profile,
    )  # fmt: skip
    files = write(render(fleet, key_material(fleet), opts), args.out)
    print(f"wrote {len(files)} files to {args.out}/ ({len(fleet.entries)} SEs, namespace {opts.namespace}):")
    for path in files:
        print(f"  {path}")
    print(f"apply:   kubectl apply -f {args.out}/\n"
          f"follow:  kubectl -n {opts.namespace} logs -f job/se-conformance-fleet\n"
          f"verdict: kubectl -n {opts.namespace} get job se-conformance-fleet  "
          "(Complete: exit 0; Failed: 1 or 2)")  # fmt: skip
    return 0

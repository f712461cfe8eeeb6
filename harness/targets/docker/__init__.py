"""The docker target (see ``target.py``), its SE containers and their storage view."""

from harness.targets.docker.container import KEY_PATH, STORAGE_PATH, SEContainer, start_se_container
from harness.targets.docker.storage import ContainerStorageView
from harness.targets.docker.target import DockerLifecycle, DockerRun, DockerTarget

__all__ = [
    "KEY_PATH",
    "STORAGE_PATH",
    "ContainerStorageView",
    "DockerLifecycle",
    "DockerRun",
    "DockerTarget",
    "SEContainer",
    "start_se_container",
]

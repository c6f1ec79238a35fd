"""A stand-in for the Docker SDK's client, for the runner's pure logic: each container it creates prints
the lines its script gives (one script per container, in order) and then ends. Real containers are the
evidence elsewhere (tests marked docker); this one only feeds the host what a probe might send."""

from __future__ import annotations

import json


class Container:
    def __init__(self, lines: list[bytes], exit_code: int = 0) -> None:
        self.lines, self.exit_code = lines, exit_code
        self.killed = self.removed = False
        self.archives: list[str] = []
        self.attrs = {"State": {"OOMKilled": False, "ExitCode": exit_code}}

    def put_archive(self, path: str, data: bytes) -> bool:
        self.archives.append(path)
        return True

    def start(self) -> None:
        pass

    def logs(self, stdout: bool = True, stderr: bool = True, stream: bool = False, follow: bool = False):
        if stream:
            return iter(self.lines)
        return b"" if not stdout else b"".join(self.lines)

    def kill(self) -> None:
        self.killed = True

    def reload(self) -> None:
        pass

    def remove(self, force: bool = False, v: bool = False) -> None:
        self.removed = True


class Containers:
    def __init__(self, scripts: list[list[bytes]]) -> None:
        self.scripts = list(scripts)
        self.made: list[Container] = []
        self.commands: list[list[str]] = []

    def create(self, image: str, command: list[str], **options: object) -> Container:
        self.commands.append(command)
        self.made.append(Container(self.scripts.pop(0) if self.scripts else []))
        return self.made[-1]


class Client:
    def __init__(self, *scripts: list[bytes]) -> None:
        self.containers = Containers(list(scripts))


def line(**event: object) -> bytes:
    return (json.dumps(event) + "\n").encode()

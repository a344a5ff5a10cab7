"""A parent too large for a c1z object has no children listed, whichever walk lists them: a sync filtered to the child
type (the parent type left out, so its listing only pushes the children's, `ListedAsChildren`) listed the children of
a too-large parent that a full sync leaves out (in Datadog terms, the keys of a service account whose record is too
large)."""

from __future__ import annotations

from pathlib import Path

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.test_sync_children import FILE, FileSyncer, Tree
from tests.independent.idtext.test_left_out_records import BigFolderSyncer


class FilesUnderFolders(FileSyncer):
    """One file under each folder, listed only under a parent."""

    def listed_under(self) -> str:
        return "folder"

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        if parent is None:
            return Page([])
        return Page([b.resource(FILE, f"{parent.resource}-f", f"{parent.resource}-f", parent=parent)])


async def _files(tmp_path: Path, types: tuple[str, ...]) -> list[str]:
    tree = Tree([], {})
    path = tmp_path / f"{'-'.join(types) or 'all'}.c1z"
    await sync_to_file([BigFolderSyncer(tree), FilesUnderFolders(tree)], path, SyncOptions(resource_type_ids=types))
    with C1ZReader(path) as reader:
        return sorted(r.id.resource for r in reader.resources("file"))


async def test_a_too_large_parents_children_are_listed_in_neither_a_full_nor_a_filtered_sync(tmp_path: Path) -> None:
    full = await _files(tmp_path, ())
    assert full == ["small-f"]
    assert await _files(tmp_path, ("file",)) == full

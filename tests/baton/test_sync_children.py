"""Child listings (`ChildResourceType`): each parent's children are listed once per sync, as Go de-duplicates its
child actions per sync, so a resource listed twice (a page boundary shifting under an offset listing, a parent
reachable from two places) or a cycle of parents and children cannot make a sync re-list them without end."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import (
    annotation_resource_pb2,
    annotation_resource_tree_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import InjectedFailure
from tests.baton.test_sync_engine import rows_of

FOLDER = b.resource_type("folder", "Folder", annotations=[annotation_resource_pb2.SkipEntitlementsAndGrants()])
FILE = b.resource_type("file", "File", annotations=[annotation_resource_pb2.SkipEntitlementsAndGrants()])
# Far more listings than any of these trees needs: a sync that re-lists children without end is stopped here.
MAX_CALLS = 200


class Tree:
    """Folders whose children are folders and files. `top` pages the top-level listing (ids may repeat across
    pages); `under[folder]` is what listing under that folder gives (a folder may list an ancestor: a cycle)."""

    def __init__(self, top: list[list[str]], under: dict[str, list[str]], *, fail_at: int | None = None) -> None:
        self.top, self.under, self.fail_at = top, under, fail_at
        self.calls: list[tuple[str, str]] = []

    def call(self, what: str, parent: str) -> None:
        self.calls.append((what, parent))
        if len(self.calls) == self.fail_at:
            raise InjectedFailure(f"injected failure at call {len(self.calls)}")
        if len(self.calls) > MAX_CALLS:
            raise InjectedFailure(f"more than {MAX_CALLS} listings: the sync does not end")


def folder(fid: str, parent: resource_pb2.ResourceId | None) -> resource_pb2.Resource:
    children = [annotation_resource_tree_pb2.ChildResourceType(resource_type_id=t) for t in ("folder", "file")]
    return b.resource(FOLDER, fid, f"Folder {fid}", parent=parent, annotations=children)


class FolderSyncer:
    def __init__(self, tree: Tree) -> None:
        self.tree = tree

    def resource_type(self) -> resource_pb2.ResourceType:
        return FOLDER

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        if parent is None:
            self.tree.call("folders", "")
            number = int(page_token or 0)
            nxt = str(number + 1) if number + 1 < len(self.tree.top) else ""
            return Page([folder(f, None) for f in self.tree.top[number]], nxt)
        self.tree.call("folders", parent.resource)
        return Page([folder(f, parent) for f in self.tree.under.get(parent.resource, [])])

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])


class FileSyncer(FolderSyncer):
    def resource_type(self) -> resource_pb2.ResourceType:
        return FILE

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        if parent is None:
            return Page([])
        self.tree.call("files", parent.resource)
        return Page([b.resource(FILE, f"{parent.resource}.txt", "a file", parent=parent)])


async def sync(tree: Tree, path: Path) -> None:
    await sync_to_file([FolderSyncer(tree), FileSyncer(tree)], path, SyncOptions())


def stored(path: Path) -> set[str]:
    with C1ZReader(path) as reader:
        return {f"{r.id.resource_type}:{r.id.resource}" for t in ("folder", "file") for r in reader.resources(t)}


async def test_a_cycle_of_parents_and_children_ends_with_each_listed_once(tmp_path: Path) -> None:
    # a lists b, b lists c, c lists a again: without a per-sync memory, a's children were listed again, then b's...
    tree = Tree([["a"]], {"a": ["b"], "b": ["c"], "c": ["a"]})
    path = tmp_path / "s.c1z"
    await sync(tree, path)
    assert stored(path) == {f"folder:{f}" for f in "abc"} | {f"file:{f}.txt" for f in "abc"}
    children = sorted(c for c in tree.calls if c[1])
    assert children == sorted((what, f) for f in "abc" for what in ("folders", "files"))


async def test_a_parent_listed_twice_has_its_children_listed_once(tmp_path: Path) -> None:
    # An offset listing shifted by an object created meanwhile gives the last item of a page again on the next one.
    tree = Tree([["a", "b"], ["b", "c"]], {"a": ["a1"]})
    path = tmp_path / "s.c1z"
    await sync(tree, path)
    assert stored(path) == {f"folder:{f}" for f in ("a", "b", "c", "a1")} | {
        f"file:{f}.txt" for f in ("a", "b", "c", "a1")
    }
    assert tree.calls.count(("folders", "b")) == 1
    assert tree.calls.count(("files", "b")) == 1


async def test_a_sync_broken_off_at_any_listing_resumes_to_the_rows_of_a_clean_sync(tmp_path: Path) -> None:
    """Whatever listing fails, the resumed run stores the clean run's rows and repeats only the failed listing:
    a parent stored before the break is not taken for a new one (its children are done or still pending)."""

    def tree(fail: int | None = None) -> Tree:
        return Tree([["a", "b"], ["b", "c"]], {"a": ["b", "d"], "d": ["a"]}, fail_at=fail)

    clean, clean_tree = tmp_path / "clean.c1z", tree()
    await sync(clean_tree, clean)
    assert len(clean_tree.calls) == 2 + 2 * 4  # two top-level pages; folders and files under a, b, c, d
    for fail_at in range(1, len(clean_tree.calls) + 1):
        path = tmp_path / f"broken-at-{fail_at}.c1z"
        broken = tree(fail_at)
        with pytest.raises(InjectedFailure):
            await sync(broken, path)
        resumed = tree()
        await sync(resumed, path)
        assert rows_of(path) == rows_of(clean), fail_at
        assert sorted(broken.calls[:-1] + resumed.calls) == sorted(clean_tree.calls), fail_at

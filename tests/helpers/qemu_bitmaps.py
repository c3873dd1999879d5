#!/usr/bin/env python3
"""The persistent dirty bitmaps QEMU holds, from its own JSON on stdin (the
qemu tier checks each checkpoint against them).

usage: virsh qemu-monitor-command DOM '{"execute":"query-named-block-nodes"}' |
           qemu_bitmaps.py block-nodes
         print "IMAGE BITMAP" for every persistent bitmap of every qcow2
         node, IMAGE being the node's file name without its folder
       virsh qemu-monitor-command DOM '{"execute":"query-named-block-nodes"}' |
           qemu_bitmaps.py node IMAGE
         print the node name of the qcow2 node of IMAGE (the file's path),
         as QMP's block-dirty-bitmap-* commands want it
       qemu-img info -U --output=json IMAGE | qemu_bitmaps.py image
         print the names of the bitmaps stored in the image, sorted
Exits with a message when the JSON is not what QEMU answers.
"""
import json
import sys


def block_nodes(answer):
    for node in answer["return"]:
        if node.get("drv") != "qcow2":
            continue
        for bm in node.get("dirty-bitmaps", []):
            if bm.get("persistent"):
                print(node["file"].rsplit("/", 1)[-1], bm["name"])


def node(answer, path):
    names = [n["node-name"] for n in answer["return"]
             if n.get("drv") == "qcow2" and n.get("file") == path]
    if len(names) != 1:
        raise SystemExit("qemu_bitmaps.py: %d qcow2 nodes of %s" % (len(names), path))
    print(names[0])


def image(info):
    data = info.get("format-specific", {}).get("data", {})
    print("\n".join(sorted(b["name"] for b in data.get("bitmaps", []))))


def main():
    cmds = {"block-nodes": block_nodes, "image": image, "node": node}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit("usage: qemu_bitmaps.py block-nodes|image|node [IMAGE] <JSON")
    try:
        cmds[sys.argv[1]](json.load(sys.stdin), *sys.argv[2:])
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit("qemu_bitmaps.py %s: unexpected JSON (%s: %s)"
                         % (sys.argv[1], type(e).__name__, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())

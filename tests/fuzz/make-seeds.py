#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

The seeds are committed; this script is how they were made, so that they can be remade
when the protocol, the configuration keys or the record format change. Requests follow
PROTOCOL-DECISIONS.md, configurations pasidd.conf(5), records daemon/state/record.h and
the files daemon/state/journal_format.c. Usage: python3 tests/fuzz/make-seeds.py (from anywhere)."""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_request: byte 0 = admin mask (bit k % 8: line k from an admin), then lines ----

ADMIN, USER = 0xFF, 0x00


def req(method, params=None, id_=1):
    """A request line; params is raw JSON text so that seeds can hold any spelling."""
    s = '{"jsonrpc":"2.0","id":%s,"method":"%s"' % (id_, method)
    if params is not None:
        s += ',"params":' + params
    return s + "}"


def note(method, params=None):
    s = '{"jsonrpc":"2.0","method":"%s"' % method
    if params is not None:
        s += ',"params":' + params
    return s + "}"


REQUESTS = {
    "status": (ADMIN, [req("daemon.status"), req("rpc.discover", "{}", 2)]),
    # device.attach needs its two descriptors (none ride with these lines: -32602 "fds");
    # device.detach of what is not attached, of another VM's device, of a shared one.
    "device-attach": (USER, [
        req("vm.register", '{"vm":"d"}'),
        req("device.assign", '{"vm":"d","device":"0000:00:02.0"}', 2),
        req("device.attach", '{"vm":"d","device":"0000:00:02.0","pt_id":1,"dev_id":1,'
            '"fds":2}', 3),
        req("device.attach", '{"vm":"d","device":"0000:00:02.0","pt_id":1,"dev_id":1}', 4),
        req("device.detach", '{"vm":"d","device":"0000:00:02.0"}', 5),
        req("device.detach", '{"vm":"d","device":"0000:00:03.0"}', 6),
        req("device.release", '{"vm":"d","device":"0000:00:02.0"}', 7),
        req("vm.unregister", '{"vm":"d"}', 8),
    ]),
    "lifecycle": (ADMIN, [
        req("vm.register", '{"vm":"vm1"}'),
        req("device.assign", '{"vm":"vm1","device":"0000:00:02.0"}', 2),
        req("pasid.alloc", '{"vm":"vm1","type":"local","device":"0000:00:02.0"}', 3),
        req("pasid.alloc", '{"vm":"vm1","type":"shared"}', 4),
        req("vm.show", '{"vm":"vm1"}', 5),
        req("pasid.list", '{"vm":"vm1"}', 6),
        req("pasid.lookup", '{"vm":"vm1","gpasid":1}', 7),
        req("pasid.free", '{"vm":"vm1","gpasid":1}', 8),
        req("device.release", '{"vm":"vm1","device":"0000:00:02.0"}', 9),
        req("vm.unregister", '{"vm":"vm1"}', 10),
    ]),
    "identity": (ADMIN, [
        req("vm.register", '{"vm":"id1","mode":"identity",'
            '"uuid":"0123ABCD-89ab-cdef-0123-456789abcdef"}'),
        req("pasid.alloc", '{"vm":"id1","type":"shared","count":8}', 2),
        req("pasid.lookup", '{"hpasid":4096}', 3),
        req("pasid.list", '{"type":"shared"}', 4),
        req("pasid.alloc", '{"vm":"vm1","type":"shared","wq":"dsa0/wq0.1"}', 40),
        req("pasid.alloc", '{"vm":"vm1","type":"local","wq":"dsa0/wq0.1"}', 41),
        req("pasid.list", '{"wq":"dsa0/wq0.1"}', 42), req("wq.list", None, 43),
    ]),
    "shared-device": (ADMIN, [
        req("vm.register", '{"vm":"a"}'),
        req("vm.register", '{"vm":"b"}', 2),
        req("device.assign", '{"vm":"a","device":"0000:6a:01.0","shared":true}', 3),
        req("device.assign", '{"vm":"b","device":"0000:6a:01.0","shared":true}', 4),
        req("pasid.alloc", '{"vm":"a","type":"local","device":"0000:6a:01.0"}', 5),
        req("device.assign", '{"vm":"b","device":"0000:6a:01.0"}', 6),
        req("vm.list", None, 7),
    ]),
    "explicit-gpasid": (ADMIN, [
        req("vm.register", '{"vm":"g"}'),
        req("pasid.alloc", '{"vm":"g","type":"shared","gpasid":17}', 2),
        req("pasid.alloc", '{"vm":"g","type":"shared","gpasid":17}', 3),
        req("pasid.alloc", '{"vm":"g","type":"shared","gpasid":4095}', 4),
        req("pasid.alloc", '{"vm":"g","type":"shared","gpasid":4096}', 5),
        req("pasid.alloc", '{"vm":"g","type":"shared","gpasid":1048575}', 6),
    ]),
    "big-count": (ADMIN, [
        req("vm.register", '{"vm":"big"}'),
        req("pasid.alloc", '{"vm":"big","type":"shared","count":4096}', 2),
        req("pasid.alloc", '{"vm":"big","type":"shared"}', 3),
        req("vm.unregister", '{"vm":"big"}', 4),
    ]),
    "local-many": (ADMIN, [
        req("vm.register", '{"vm":"l"}'),
        req("device.assign", '{"vm":"l","device":"ffff:ff:1f.7"}', 2),
        req("pasid.alloc", '{"vm":"l","type":"local","device":"FFFF:FF:1F.7","count":100}', 3),
        req("pasid.lookup", '{"hpasid":5,"device":"ffff:ff:1f.7"}', 4),
        req("device.release", '{"vm":"l","device":"ffff:ff:1f.7"}', 5),
    ]),
    "batch": (ADMIN, [
        "[" + ",".join([req("vm.register", '{"vm":"b1"}', 1), note("vm.list"),
                        req("pasid.alloc", '{"vm":"b1","type":"shared"}', 2), "1", "{}",
                        req("nosuch", None, '"x"')]) + "]",
        "[]",
        "[" + note("daemon.status") + "]",
    ]),
    "notifications": (ADMIN, [
        note("vm.register", '{"vm":"n1"}'),
        note("pasid.alloc", '{"vm":"n1","type":"shared"}'),
        note("nosuch"),
        req("vm.show", '{"vm":"n1"}'),
    ]),
    "ids": (ADMIN, [
        req("vm.list", None, '"abc"'), req("vm.list", None, "null"),
        req("vm.list", None, "-0"), req("vm.list", None, "1.5e3"),
        req("vm.list", None, "18446744073709551616"), req("vm.list", None, "{}"),
        req("vm.list", None, "[1]"), req("vm.list", None, "true"),
    ]),
    "user-vs-admin": (0b10101010, [
        req("vm.register", '{"vm":"mine"}'),
        req("vm.register", '{"vm":"root1"}', 2),
        req("pasid.alloc", '{"vm":"root1","type":"shared"}', 3),
        req("pasid.alloc", '{"vm":"mine","type":"shared"}', 4),
        req("pasid.lookup", '{"hpasid":4096}', 5),
        req("vm.show", '{"vm":"mine"}', 6),
        req("vm.unregister", '{"vm":"root1"}', 7),
        req("pasid.list", None, 8),
    ]),
    "user-only": (USER, [
        req("vm.register", '{"vm":"u","pid":1}'),
        req("vm.register", '{"vm":"u"}', 2),
        req("pasid.alloc", '{"vm":"u","type":"shared","count":3}', 3),
        req("vm.list", None, 4),
    ]),
    "admin-pid": (ADMIN, [
        req("vm.register", '{"vm":"init","pid":1}'),
        req("vm.register", '{"vm":"gone","pid":2147483647}', 2),
        req("vm.register", '{"vm":"init","mode":"identity"}', 3),
        req("vm.register", '{"vm":"init","uuid":"00000000-0000-0000-0000-000000000000"}', 4),
    ]),
    "bad-params": (ADMIN, [
        req("vm.register", '{"vm":"../x"}'),
        req("vm.register", '{"vm":"a\\u0000b"}', 2),
        req("vm.register", '{"vm":""}', 3),
        req("vm.register", '{"vm":"' + "a" * 65 + '"}', 4),
        req("vm.register", '{"vm":"x","mode":"IDENTITY"}', 5),
        req("vm.register", '{"vm":"x","uuid":"nope"}', 6),
        req("pasid.alloc", '{"vm":"x","type":"both"}', 7),
        req("pasid.free", '{"vm":"x","gpasid":-1}', 8),
        req("pasid.free", '{"vm":"x","gpasid":9223372036854775808}', 9),
        req("pasid.free", '{"vm":"x","gpasid":1e3}', 10),
        req("pasid.free", '{"vm":"x","gpasid":"5"}', 11),
        req("pasid.alloc", '{"vm":"x","type":"shared","count":0}', 12),
        req("vm.show", "[]", 13),
        req("vm.show", '"x"', 14),
        req("vm.show", '{"vm":"x","bogus":1}', 15),
    ]),
    "bdf-edges": (ADMIN, [
        req("vm.register", '{"vm":"d"}'),
        req("device.assign", '{"vm":"d","device":"0000:00:1f.8"}', 2),
        req("device.assign", '{"vm":"d","device":"0000:00:20.0"}', 3),
        req("device.assign", '{"vm":"d","device":"0000:0:02.0"}', 4),
        req("device.assign", '{"vm":"d","device":"0000:00:02.0\\u0000x"}', 5),
        req("device.assign", '{"vm":"d","device":"FFFF:FF:1F.7","shared":"true"}', 6),
        req("device.assign", '{"vm":"d","device":"FFFF:FF:1F.7","shared":false}', 7),
        req("device.assign", '{"vm":"d","device":"ffff:ff:1f.7","shared":true}', 8),
    ]),
    "envelope-errors": (ADMIN, [
        '{"jsonrpc":"1.0","id":1,"method":"vm.list"}',
        '{"jsonrpc":2.0,"id":1,"method":"vm.list"}',
        '{"id":1,"method":"vm.list"}',
        '{"jsonrpc":"2.0","id":1,"method":""}',
        '{"jsonrpc":"2.0","id":1,"method":5}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.list","params":null}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.list\\u0000"}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.list","extension":{"x":[1,2]}}',
    ]),
    "parse-errors": (ADMIN, [
        '{"jsonrpc":"2.0","id":1,"method":"vm.list"',
        "{'jsonrpc':'2.0'}",
        '{"jsonrpc":"2.0","id":01,"method":"vm.list"}',
        '{"jsonrpc":"2.0","id":NaN,"method":"vm.list"}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.list"} x',
        '{"a":"\xff"}',
        '{"a":"\xc0\xaf"}',
        "[" * 40 + "]" * 40,
        "",
        "   \t\r",
    ]),
    "duplicates": (ADMIN, [
        '{"jsonrpc":"2.0","id":1,"id":2,"method":"vm.list"}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.show","params":{"vm":"a","vm":"b"}}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.show","params":{"vm":"a","v\\u006d":"b"}}',
        '{"jsonrpc":"2.0","id":1,"method":"vm.list","x":[{"k":1,"k":2}]}',
    ]),
    "unicode": (ADMIN, [
        req("vm.register", '{"vm":"v\\u00e9"}', '"\xc3\xa9t\xc3\xa9"'),
        req("vm.register", '{"vm":"\\ud800"}', 2),
        req("vm.register", '{"vm":"\\ud83d\\ude00"}', 3),
        req("vm.show", '{"vm":"\xe2\x82\xac"}', 4),
    ]),
    "names-edge": (ADMIN, [
        req("vm.register", '{"vm":"' + "Z" * 64 + '"}'),
        req("vm.register", '{"vm":"a.b_c:d@e+f-g"}', 2),
        req("vm.register", '{"vm":"-x"}', 3),
        req("vm.register", '{"vm":"a/b"}', 4),
        req("vm.register", '{"vm":"a\\nb"}', 5),
        req("vm.unregister", '{"vm":"' + "Z" * 64 + '"}', 6),
    ]),
    "numbers": (ADMIN, [
        req("vm.register", '{"vm":"n"}'),
        req("pasid.lookup", '{"hpasid":1048576}', 2),
        req("pasid.lookup", '{"hpasid":-1}', 3),
        req("pasid.lookup", '{"hpasid":1.5}', 4),
        req("pasid.lookup", '{"hpasid":1e400}', 5),
        req("pasid.lookup", '{"hpasid":' + "9" * 40 + "}", 6),
        req("pasid.alloc", '{"vm":"n","type":"shared","count":4097}', 7),
        req("pasid.alloc", '{"vm":"n","type":"shared","count":true}', 8),
        req("vm.register", '{"vm":"n2","pid":0}', 9),
    ]),
    "release-busy": (ADMIN, [
        req("vm.register", '{"vm":"r"}'),
        req("device.assign", '{"vm":"r","device":"0000:01:00.1"}', 2),
        req("pasid.alloc", '{"vm":"r","type":"local","device":"0000:01:00.1","gpasid":9}', 3),
        req("device.release", '{"vm":"r","device":"0000:01:00.1"}', 4),
        req("device.assign", '{"vm":"r","device":"0000:01:00.1","shared":true}', 5),
        req("vm.unregister", '{"vm":"r"}', 6),
        req("device.assign", '{"vm":"r","device":"0000:01:00.1"}', 7),
    ]),
    "reregister": (ADMIN, [
        req("vm.register", '{"vm":"re","mode":"translated"}'),
        req("pasid.alloc", '{"vm":"re","type":"shared"}', 2),
        req("vm.register", '{"vm":"re"}', 3),
        req("vm.unregister", '{"vm":"re"}', 4),
        req("vm.register", '{"vm":"re","mode":"identity"}', 5),
        req("pasid.alloc", '{"vm":"re","type":"shared"}', 6),
    ]),
    "many-vms": (ADMIN, [req("vm.register", '{"vm":"m%d"}' % i, i) for i in range(20)]
                 + [req("pasid.alloc", '{"vm":"m%d","type":"shared","count":2}' % i, 100 + i)
                    for i in range(20)]),
    "free-all": (ADMIN, [
        req("vm.register", '{"vm":"f"}'),
        req("pasid.alloc", '{"vm":"f","type":"shared","count":5}', 2),
    ] + [req("pasid.free", '{"vm":"f","gpasid":%d}' % g, 3 + g) for g in range(1, 7)]),
    "list-filters": (ADMIN, [
        req("pasid.list", '{"type":"local"}'), req("pasid.list", '{"vm":"none"}', 2),
        req("pasid.list", '{"type":"x"}', 3), req("vm.list", '{"x":1}', 4),
    ]),
    "crlf": (ADMIN, [req("vm.list") + "\r", "\r", req("daemon.status", None, 2) + "  "]),
}

# ---- fuzz_config: INI text; a NUL byte separates the main file from drop-ins ----

CONFIGS = {
    "empty": "",
    "defaults": "[Daemon]\nSocket=/run/pasidd/pasidd.sock\nStateDirectory=/run/pasidd\n"
                "Backend=auto\nAdminGroup=\nSocketGroup=pasid\nSocketMode=0660\n"
                "MaxMessageSize=65536\n\n[Namespace]\nPasidBits=20\nLocalRange=1-4095\n"
                "SharedRange=4096-524287\n",
    "limits": "[Limits]\nMaxBatch=1024\nMaxPending=1024\nMaxConnections=4096\n"
              "MaxConnectionsPerUid=256\nMaxVMsPerUid=1024\nIdleTimeoutSec=30\n",
    "idle-short": "[Limits]\nIdleTimeoutSec=2\n",
    "comments": "# pasidd\n; another comment\n[Daemon]\n  Backend = sim  \n\t# indented\n",
    "crlf": "[Daemon]\r\nBackend=sim\r\nSocketMode=0600\r\n",
    "bits-small": "[Namespace]\nPasidBits=14\nLocalRange=1-1023\nSharedRange=1024-8191\n",
    "bits-default-shared": "[Namespace]\nPasidBits=13\n",
    "bits-1": "[Namespace]\nPasidBits=1\nLocalRange=1-1\nSharedRange=1-1\n",
    "overlap": "[Namespace]\nLocalRange=1-5000\n",
    "reversed": "[Namespace]\nSharedRange=9000-8000\n",
    "zero": "[Namespace]\nLocalRange=0-10\n",
    "huge": "[Namespace]\nSharedRange=4096-4294967295\n",
    "drop-in": "[Daemon]\nBackend=auto\n\0[Daemon]\nBackend=sim\nAdminGroup=wheel\n"
               "\0[Namespace]\nPasidBits=16\n",
    "drop-in-bad": "[Daemon]\nSocket=/a\n\0[Daemon]\nSocket=relative\n",
    "unknown-section": "[Nope]\nKey=1\n",
    "unknown-key": "[Daemon]\nNope=1\n",
    "no-section": "Backend=sim\n",
    "no-equals": "[Daemon]\nBackend\n",
    "empty-key": "[Daemon]\n=sim\n",
    "bad-header": "[Daemon\n",
    "empty-header": "[]\n",
    "long-header": "[" + "D" * 100 + "]\n",
    "bad-mode": "[Daemon]\nSocketMode=0999\n",
    "max-message": "[Daemon]\nMaxMessageSize=1023\n\0[Daemon]\nMaxMessageSize=16777217\n",
    "numbers": "[Namespace]\nPasidBits=+20\n\0[Namespace]\nPasidBits= 20\n"
               "\0[Namespace]\nLocalRange=1-0x10\n",
    "limits-bad": "[Limits]\nMaxBatch=0\n\0[Limits]\nIdleTimeoutSec=86401\n",
    "range-long": "[Namespace]\nLocalRange=000000000000000000001-4095\n",
    "repeat": "[Daemon]\nBackend=sim\nBackend=auto\nBackend=sim\n[Daemon]\nBackend=auto\n",
    "quota": "[Quota]\nDefaultVMMax=64\nMax=/ 4096\nMax=/machine.slice 1000\n"
             "Max=/machine.slice/vm 1.scope max\n",
    "quota-bad": "[Quota]\nMax=/a\n\0[Quota]\nMax=relative 5\n\0[Quota]\nDefaultVMMax=-1\n"
                 "\0[Quota]\nMax=/a/../b 5\n",
    "workqueue": "[Idxd]\nRequireWQ=yes\n[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\nType=user\n"
                 "Size=32\nPriority=10\nGroup=0\nThreshold=16\nBlockOnFault=no\nLabel=vms\n"
                 "[WorkQueue]\nName=iax1/wq1.0\nMode=dedicated\nType=kernel\nGroup=-1\n"
                 "\0[WorkQueue]\nName=dsa0/wq0.2\nMode=dedicated\nType=none\n",
    "workqueue-bad": "[WorkQueue]\nName=dsa0/wq0.1\nMode=dedicated\nType=user\nThreshold=4\n"
                     "\0[WorkQueue]\nMode=shared\n\0[WorkQueue]\nName=dsa0/wq0.1\n"
                     "Name=dsa0/wq0.1\n\0[WorkQueue]\nName=dsa00/wq0.1\nSize=0\nGroup=-2\n",
}

# ---- fuzz_journal: byte 0 = mode (see fuzz_journal.c) ----

CRC_TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    CRC_TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def s(name):
    b = name.encode()
    return struct.pack("<I", len(b)) + b


def r_vm(name, mode=0, pid=1, start=12345, uid=0,
         uuid="01234567-89ab-cdef-0123-456789abcdef", cgroup="/"):
    return (bytes([1]) + s(name) + bytes([mode]) + struct.pack("<IQI", pid, start, uid)
            + uuid.encode() + s(cgroup))


def r_unvm(name):
    return bytes([2]) + s(name)


def r_dev(name, bdf, shared):
    return bytes([3]) + s(name) + struct.pack("<IB", bdf, shared)


def r_undev(name, bdf):
    return bytes([4]) + s(name) + struct.pack("<I", bdf)


def r_map(name, type_, g, h, bdf=0, wq=""):
    """Version 2's layout: the mapping's work queue ends it (see old())."""
    return bytes([5]) + s(name) + struct.pack("<BIII", type_, g, h, bdf) + s(wq)


def old(records):
    """The same records as versions 0 and 1 lay them out: REC_MAP without its work queue."""
    return [r[:-4] if r[0] == 5 and r.endswith(bytes(4)) else r for r in records]


def r_unmap(name, g):
    return bytes([6]) + s(name) + struct.pack("<I", g)


def r_cursor(c):
    return bytes([7]) + s("") + struct.pack("<I", c)


def r_lcursor(bdf, c):
    return bytes([8]) + s("") + struct.pack("<II", bdf, c)


def r_quota(cgroup, limit):
    return bytes([9]) + s("") + s(cgroup) + struct.pack("<Q", limit)


def r_owner(name, pid=7, start=54321, uid=0):
    return bytes([10]) + s(name) + struct.pack("<IQI", pid, start, uid)


# Record format version 1: attachments.
def r_attach(name, g, bdf, dev_id, pt_id):
    return bytes([11]) + s(name) + struct.pack("<IIII", g, bdf, dev_id, pt_id)


def r_detach(name, g, bdf):
    return bytes([12]) + s(name) + struct.pack("<II", g, bdf)


# Record format version 3: a device's requester ID attached (device.attach), and detached.
def r_devattach(name, bdf, dev_id, pt_id):
    return bytes([15]) + s(name) + struct.pack("<III", bdf, dev_id, pt_id)


def r_devdetach(name, bdf):
    return bytes([16]) + s(name) + struct.pack("<I", bdf)


def stream(records):
    return b"".join(struct.pack("<H", len(r)) + r for r in records)


REC_FORMAT_VERSION = 3  # record.h
REC_FORMAT_OLDEST = 0


def header(magic, gen, version=REC_FORMAT_VERSION):
    h = magic + struct.pack("<QI", gen, version)
    return h + struct.pack("<I", crc32c(h))


def frame(rec):
    ln = struct.pack("<I", len(rec))
    return ln + struct.pack("<I", crc32c(rec, crc32c(ln))) + rec


def snapshot(gen, records, version=REC_FORMAT_VERSION):
    body = struct.pack("<QQq", len(records), sum(len(r) for r in records), 1700000000)
    mark = struct.pack("<I", 0xFFFFFFFF)
    return (header(b"PASIDDS1", gen, version) + b"".join(frame(r) for r in records) + mark
            + struct.pack("<I", crc32c(body, crc32c(mark))) + body)


BDF2 = 0x00_00_10  # 0000:00:02.0
BDF3 = 0x00_00_18  # 0000:00:03.0
TYPICAL = [
    r_vm("vm1"), r_dev("vm1", BDF2, 0), r_map("vm1", 1, 1, 1, BDF2), r_lcursor(BDF2, 1),
    r_map("vm1", 0, 2, 4096), r_cursor(1), r_vm("vm2", mode=1, pid=2, uid=1000),
    r_dev("vm2", BDF3, 1), r_dev("vm1", BDF3, 1), r_map("vm2", 0, 4097, 4097), r_cursor(2),
]
# vm1's local gPASID 1 and shared gPASID 2, vm2's shared 4097, attached (version 1).
ATTACHED = TYPICAL + [
    r_attach("vm1", 1, BDF2, 3, 4), r_attach("vm1", 2, BDF3, 3, 5),
    r_attach("vm2", 4097, BDF3, 6, 7),
]
JOURNALS = {
    "typical": bytes([0]) + stream(TYPICAL),
    "churn": bytes([0]) + stream(TYPICAL + [
        r_unmap("vm1", 1), r_undev("vm1", BDF2), r_unmap("vm1", 2), r_unvm("vm1"),
        r_vm("vm1", pid=3), r_map("vm1", 0, 1, 4098), r_cursor(3)]),
    "conflict": bytes([0]) + stream([r_vm("a"), r_vm("b"), r_map("a", 0, 1, 5000),
                                     r_map("b", 0, 1, 5000)]),
    "local-on-shared": bytes([0]) + stream([r_vm("a"), r_dev("a", BDF3, 1),
                                            r_map("a", 1, 7, 7, BDF3)]),
    "unknown-vm": bytes([0]) + stream([r_map("ghost", 0, 1, 4096)]),
    "bad-cursor": bytes([0]) + stream([r_cursor(600000), r_lcursor(BDF2, 5000)]),
    "out-of-range": bytes([0]) + stream([r_vm("a"), r_map("a", 0, 1, 2000000),
                                         r_map("a", 0, 0, 4096)]),
    "identity-mismatch": bytes([0]) + stream([r_vm("i", mode=1), r_map("i", 0, 5, 4100)]),
    "bad-name": bytes([0]) + stream([r_vm("../x"), r_vm(""), r_vm("a" * 64)]),
    "torn-tail": bytes([1]) + b"".join(frame(r) for r in TYPICAL) + frame(r_cursor(9))[:11],
    "zero-tail": bytes([1]) + b"".join(frame(r) for r in TYPICAL[:4]) + bytes(64),
    "bad-crc": bytes([1]) + frame(TYPICAL[0])[:-1] + b"\x00" + frame(TYPICAL[1]),
    "trailer-in-journal": bytes([1]) + frame(TYPICAL[0]) + snapshot(0, [])[24:],
    "whole-journal": bytes([2]) + header(b"PASIDDJ1", 0) + b"".join(frame(r) for r in TYPICAL),
    "wrong-generation": bytes([2]) + header(b"PASIDDJ1", 7) + frame(TYPICAL[0]),
    "snapshot-magic": bytes([2]) + header(b"PASIDDS1", 0),
    # Whole headers of a format this pasidd does not read: refused, never salvaged.
    "record-version-4": bytes([2]) + header(b"PASIDDJ1", 0, 4) + frame(TYPICAL[0]),
    "file-format-2": bytes([2]) + header(b"PASIDDJ2", 0) + frame(TYPICAL[0]),
    "split-snapshot": bytes([3, 6]) + stream(TYPICAL),
    "snapshot-only": bytes([3, 11]) + stream(TYPICAL),
    "raw-snapshot": bytes([4]) + snapshot(1, TYPICAL),
    "raw-snapshot-bad-count": bytes([4]) + snapshot(1, TYPICAL)[:-24] + struct.pack(
        "<QQq", 99, 0, 0),
    "raw-snapshot-truncated": bytes([4]) + snapshot(1, TYPICAL)[:-5],
    "empty": bytes([0]),
    "quota": bytes([0]) + stream([r_quota("/", 100), r_quota("/user.slice", 10),
                                  r_quota("/user.slice/a.scope", 2 ** 64 - 1)] + TYPICAL),
    "quota-bad": bytes([0]) + stream([r_quota("user.slice//x/", 5), r_quota("/a", 2 ** 63),
                                      r_quota("/../x", 1)]),
    "quota-snapshot": bytes([3, 2]) + stream([r_quota("/", 7), TYPICAL[0],
                                              r_quota("/system.slice", 0)] + TYPICAL[1:]),
    # Version 1: attachments, kept, replaced, detached, freed with their mapping and VM.
    "attach": bytes([0]) + stream(ATTACHED),
    "attach-churn": bytes([0]) + stream(ATTACHED + [
        r_detach("vm1", 2, BDF3), r_attach("vm1", 2, BDF3, 3, 9), r_detach("vm1", 1, BDF2),
        r_unmap("vm1", 1), r_detach("vm1", 2, BDF3), r_unmap("vm1", 2), r_owner("vm2"),
        r_detach("vm2", 4097, BDF3), r_unvm("vm2")]),
    "attach-snapshot": bytes([3, 14]) + stream(ATTACHED + [r_detach("vm2", 4097, BDF3)]),
    "attach-raw-snapshot": bytes([4]) + snapshot(1, ATTACHED),
    # Refused as damage: a missing VM or mapping, a device the VM does not hold, twice, a
    # detach of nothing, and a record cut short or one byte long.
    "attach-bad": bytes([0]) + stream(TYPICAL + [
        r_attach("ghost", 1, BDF2, 0, 0), r_attach("vm1", 9, BDF2, 0, 0),
        r_attach("vm2", 4097, BDF2, 0, 0), r_attach("vm1", 1, BDF3, 0, 0),
        r_attach("vm1", 2, BDF3, 1, 1), r_attach("vm1", 2, BDF3, 1, 1),
        r_detach("vm1", 1, BDF2), r_attach("vm1", 1, BDF2, 0, 0)[:-1],
        r_detach("vm1", 2, BDF3) + b"\0"]),
    # Version 0, which an upgrade reads (modes 5 and 6, and whole files): every op of that
    # version; and an attach op in it, which is damage there.
    "v0-typical": bytes([5]) + stream(old(TYPICAL + [r_owner("vm2"), r_quota("/", 9)])),
    "v0-split": bytes([6, 5]) + stream(old(TYPICAL + [r_unmap("vm1", 2)])),
    "v0-whole-journal": bytes([2]) + header(b"PASIDDJ1", 0, REC_FORMAT_OLDEST) + b"".join(
        frame(r) for r in old(TYPICAL)),
    # Beside the journal.1 of the current version that mode 4 writes: two versions in one
    # generation, which replay and salvage take as damage.
    "v0-raw-snapshot": bytes([4]) + snapshot(1, old(TYPICAL), REC_FORMAT_OLDEST),
    "v0-attach": bytes([5]) + stream(old(ATTACHED)),
    # A version-2 layout in a version-0 file, and version 2's work queues (valid, malformed,
    # on a local mapping).
    "v0-with-wq": bytes([5]) + stream(TYPICAL),
    "wq": bytes([0]) + stream(TYPICAL + [
        r_map("vm1", 0, 3, 4100, wq="dsa0/wq0.1"), r_map("vm2", 0, 4101, 4101, wq="iax1/wq1.0"),
        r_unmap("vm1", 3), r_map("vm1", 0, 3, 4102, wq="dsa0/wq0.1")]),
    "wq-bad": bytes([0]) + stream(TYPICAL + [
        r_map("vm1", 0, 3, 4100, wq="dsa0/wq1.1"), r_map("vm1", 1, 5, 5, BDF2, wq="dsa0/wq0.1"),
        r_map("vm1", 0, 6, 4103, wq="x" * 40)]),
    # Version 3: requester ID attachments (vm1's own BDF2; BDF3 is shared), replaced,
    # detached, released with the device and gone with the VM; and what does not apply.
    "devattach": bytes([0]) + stream(ATTACHED + [
        r_devattach("vm1", BDF2, 3, 8), r_devdetach("vm1", BDF2), r_devattach("vm1", BDF2, 3, 9),
        r_detach("vm1", 1, BDF2), r_unmap("vm1", 1), r_devdetach("vm1", BDF2),
        r_devattach("vm1", BDF2, 3, 10), r_undev("vm1", BDF2), r_dev("vm1", BDF2, 0),
        r_devattach("vm1", BDF2, 4, 11), r_unvm("vm1")]),
    "devattach-snapshot": bytes([3, 15]) + stream(ATTACHED + [r_devattach("vm1", BDF2, 3, 8)]),
    "devattach-raw-snapshot": bytes([4]) + snapshot(1, TYPICAL[:3] + [
        r_devattach("vm1", BDF2, 3, 8)] + TYPICAL[3:]),
    "devattach-bad": bytes([0]) + stream(TYPICAL + [
        r_devattach("ghost", BDF2, 0, 0), r_devattach("vm1", BDF3, 0, 0),
        r_devattach("vm2", BDF2, 0, 0), r_devdetach("vm1", BDF2),
        r_devattach("vm1", BDF2, 0, 0), r_devattach("vm1", BDF2, 0, 0),
        r_devattach("vm1", BDF2, 0, 0)[:-1], r_devdetach("vm1", BDF2) + b"\0"]),
    "v0-devattach": bytes([5]) + stream(old(TYPICAL) + [r_devattach("vm1", BDF2, 3, 8)]),
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1") if any(ord(c) > 0x7F for c in data) else data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for name, (mask, lines) in REQUESTS.items():
        body = "\n".join(lines) + "\n"
        # Seeds hold raw bytes: characters above 0x7f are meant as bytes (\xff, UTF-8).
        write("fuzz_request", name, bytes([mask]) + body.encode("latin-1"))
    for name, text in CONFIGS.items():
        write("fuzz_config", name, text)
    for name, data in JOURNALS.items():
        write("fuzz_journal", name, data)
    print("seeds: %d requests, %d configs, %d journals" % (len(REQUESTS), len(CONFIGS),
                                                           len(JOURNALS)))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A vfio-user server presenting an inert PCIe function with a 20-bit PASID capability.

QEMU >= 10.1 (`-device vfio-user-pci,socket=...`) takes a device's config space from such a
server, extended capabilities included, so the 7.3 guest sees a function whose PASID width is
20 (no emulated QEMU device has a PASID capability). The function has no BARs and no working
interrupts and never does DMA: it exists so that the guest's VT-d driver and iommufd treat it
as PASID-capable. Standard library only.

Usage: vfu_server.py SOCKET   (serves one client, exits when it goes away)
"""
import array
import os
import socket
import struct
import sys

# The message header: id, command, size (header included), flags, error.
HEADER = struct.Struct("<HHIII")
F_REPLY, F_NO_REPLY, F_ERROR = 0x1, 0x10, 0x20
CMD = {1: "VERSION", 2: "DMA_MAP", 3: "DMA_UNMAP", 4: "DEVICE_GET_INFO",
       5: "DEVICE_GET_REGION_INFO", 7: "DEVICE_GET_IRQ_INFO", 8: "DEVICE_SET_IRQS",
       9: "REGION_READ", 10: "REGION_WRITE", 13: "DEVICE_RESET"}
PCI_CONFIG_REGION = 7          # VFIO_PCI_CONFIG_REGION_INDEX
N_REGIONS, N_IRQS = 9, 5       # what a vfio-pci device has
PASID_BITS = 20
PASID_CAP = 0x100              # the extended capability's offset
EOPNOTSUPP = 95


def config_space():
    """4 KiB of PCIe config space: an endpoint with a PCIe and a PASID capability."""
    c = bytearray(4096)
    struct.pack_into("<HHHH", c, 0x00, 0x1234, 0x5a5a, 0x0000, 0x0010)  # ids, cmd, status
    struct.pack_into("<I", c, 0x08, 0x00ff0001)        # class ff00 ("other"), revision 1
    c[0x34] = 0x40                                     # the capability list starts at 0x40
    c[0x40:0x44] = bytes([0x10, 0x00, 0x02, 0x00])     # PCI Express cap v2, endpoint, last
    # Device Capabilities 2, bit 21: End-End TLP Prefix supported; Linux refuses to
    # enable PASID on a function without it.
    struct.pack_into("<I", c, 0x40 + 0x24, 1 << 21)
    # PASID extended capability: id 0x1b, version 1, no next; width in bits 8-12.
    struct.pack_into("<IHH", c, PASID_CAP, 0x1b | 1 << 16, PASID_BITS << 8, 0)
    return c


class Device:
    def __init__(self):
        self.cfg = config_space()
        self.seen = {}

    def version(self, body):
        caps = b'{"capabilities":{"max_msg_fds":8,"max_data_xfer_size":1048576}}\0'
        return struct.pack("<HH", 0, 0) + caps

    def get_info(self, body):
        return struct.pack("<IIII", 16, 1 << 1, N_REGIONS, N_IRQS)   # VFIO_DEVICE_FLAGS_PCI

    def region_info(self, body):
        index = struct.unpack_from("<I", body, 8)[0]
        size, flags = (len(self.cfg), 0x3) if index == PCI_CONFIG_REGION else (0, 0)
        return struct.pack("<IIIIQQ", 32, flags, index, 0, size, 0)  # readable, writable

    def irq_info(self, body):
        index = struct.unpack_from("<I", body, 8)[0]
        return struct.pack("<IIII", 16, 1, index, 1 if index < 3 else 0)  # INTx/MSI/MSI-X

    def region_read(self, body):
        offset, region, count = struct.unpack_from("<QII", body, 0)
        if region != PCI_CONFIG_REGION:
            data = bytes(count)
        elif offset + count <= len(self.cfg):
            data = bytes(self.cfg[offset:offset + count])
        else:
            data = b"\xff" * count
        return struct.pack("<QII", offset, region, count) + data

    def region_write(self, body):
        offset, region, count = struct.unpack_from("<QII", body, 0)
        data = body[16:16 + count]
        if region == PCI_CONFIG_REGION and offset + count <= len(self.cfg):
            if offset == PASID_CAP + 6:                # PASID Control: enable bit and friends
                self.cfg[offset] = data[0] & 0x7
                log("guest set PASID control to %#x" % self.cfg[offset])
            elif offset < 0x10 or 0x28 <= offset < 0x100:
                self.cfg[offset:offset + count] = data  # BARs stay 0, ext caps read-only
        return struct.pack("<QII", offset, region, count)

    def dma_unmap(self, body):
        return body[:24]                               # echoes the request's unmap struct

    def nothing(self, body):
        return b""

    def handle(self, cmd, body):
        table = {1: self.version, 2: self.nothing, 3: self.dma_unmap, 4: self.get_info,
                 5: self.region_info, 7: self.irq_info, 8: self.nothing,
                 9: self.region_read, 10: self.region_write, 13: self.nothing}
        name = CMD.get(cmd, str(cmd))
        self.seen[name] = self.seen.get(name, 0) + 1
        if cmd not in table:
            log("unsupported command", name)
            return None
        return table[cmd](body)


def log(*args):
    print("vfu_server:", *args, file=sys.stderr, flush=True)


def read_exact(conn, n):
    """n bytes; descriptors that come along (DMA_MAP's) are closed: nothing is mapped."""
    data = b""
    while len(data) < n:
        chunk, anc, _, _ = conn.recvmsg(n - len(data), socket.CMSG_SPACE(8 * 4))
        if not chunk:
            raise EOFError
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
                for fd in fds:
                    os.close(fd)
        data += chunk
    return data


def serve(conn, dev):
    while True:
        mid, cmd, size, flags, _ = HEADER.unpack(read_exact(conn, HEADER.size))
        body = read_exact(conn, size - HEADER.size) if size > HEADER.size else b""
        if flags & 0xf != 0 or flags & F_NO_REPLY:      # a reply, or nobody waits
            continue
        out = dev.handle(cmd, body)
        if out is None:
            conn.sendall(HEADER.pack(mid, cmd, HEADER.size, F_REPLY | F_ERROR, EOPNOTSUPP))
        else:
            conn.sendall(HEADER.pack(mid, cmd, HEADER.size + len(out), F_REPLY, 0) + out)


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    dev = Device()
    try:
        serve(conn, dev)
    except (EOFError, ConnectionError):
        pass
    log("client gone; commands served:", dev.seen)


if __name__ == "__main__":
    main()

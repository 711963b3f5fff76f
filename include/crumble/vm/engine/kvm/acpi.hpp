// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/acpi.hpp — the ACPI tables a Linux guest of the KVM engine needs.
//
// Debian's cloud kernel has no MP-table parser and no virtio-mmio command-line devices, so the
// machine describes itself with ACPI: RSDP (v2) -> XSDT -> FADT (hardware-reduced: no PM timer,
// no SCI, no legacy fixed hardware) -> DSDT (the devices, in AML), and a MADT (one local APIC per
// vCPU, the IOAPIC) so more than one vCPU can start. The tables are written into guest memory at
// `base` (RSDP first, 16-byte aligned; put it in 0xe0000-0xfffff, where the kernel also scans, or
// pass its address in boot_params.acpi_rsdp_addr).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../../bytes.hpp"

namespace crumble::vm::acpi {

// A device in the DSDT: a name, a PNP id, one I/O port range and one legacy IRQ.
struct LegacyDevice {
  std::string name;  // four characters, e.g. "COM1"
  std::string hid;   // EISA id, e.g. "PNP0501" (16550 UART)
  std::uint16_t io_base, io_length;
  std::uint8_t irq;
};

struct Layout {
  std::uint64_t rsdp = 0, xsdt = 0, fadt = 0, madt = 0, dsdt = 0, end = 0;
};

namespace detail {
inline std::uint8_t checksum(const std::uint8_t* p, std::size_t n) {
  std::uint8_t s = 0;
  for (std::size_t i = 0; i < n; ++i) s = static_cast<std::uint8_t>(s + p[i]);
  return static_cast<std::uint8_t>(-s);
}
// The 36-byte header every table but the RSDP has; length and checksum are filled by finish().
inline std::vector<std::uint8_t> header(const char sig[4], std::uint8_t revision) {
  std::vector<std::uint8_t> t(36, 0);
  std::memcpy(t.data(), sig, 4);
  t[8] = revision;
  std::memcpy(t.data() + 10, "CRUMBL", 6);    // OEM id
  std::memcpy(t.data() + 16, "CRUMBLVM", 8);  // OEM table id
  le::put(t, 24, 1, 4);                           // OEM revision
  std::memcpy(t.data() + 28, "CRMB", 4);      // creator id
  le::put(t, 32, 1, 4);                           // creator revision
  return t;
}
inline void finish(std::vector<std::uint8_t>& t) {
  le::put(t, 4, t.size(), 4);
  t[9] = 0;
  t[9] = checksum(t.data(), t.size());
}

// AML PkgLength: the length of the package including the PkgLength bytes themselves.
inline std::vector<std::uint8_t> package(std::vector<std::uint8_t> body) {
  std::size_t n = body.size();
  std::vector<std::uint8_t> out;
  if (n + 1 < 0x40) {
    out.push_back(static_cast<std::uint8_t>(n + 1));
  } else if (n + 2 < 0x1000) {
    const std::size_t len = n + 2;
    out.push_back(static_cast<std::uint8_t>(0x40 | (len & 0x0f)));
    out.push_back(static_cast<std::uint8_t>(len >> 4));
  } else {
    const std::size_t len = n + 3;
    out.push_back(static_cast<std::uint8_t>(0x80 | (len & 0x0f)));
    out.push_back(static_cast<std::uint8_t>(len >> 4));
    out.push_back(static_cast<std::uint8_t>(len >> 12));
  }
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
inline void append(std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) { a.insert(a.end(), b.begin(), b.end()); }
inline std::vector<std::uint8_t> name_seg(const std::string& s) {
  std::vector<std::uint8_t> n(4, '_');
  for (std::size_t i = 0; i < 4 && i < s.size(); ++i) n[i] = static_cast<std::uint8_t>(s[i]);
  return n;
}
// EisaId("PNP0501"): three letters in 5 bits each, then four hex digits, as a big-endian dword.
inline std::uint32_t eisa_id(const std::string& id) {
  auto hex = [](char c) { return static_cast<std::uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10); };
  std::uint32_t v = (static_cast<std::uint32_t>(id[0] - 0x40) << 26) | (static_cast<std::uint32_t>(id[1] - 0x40) << 21) |
                    (static_cast<std::uint32_t>(id[2] - 0x40) << 16) | (hex(id[3]) << 12) | (hex(id[4]) << 8) | (hex(id[5]) << 4) | hex(id[6]);
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

inline std::vector<std::uint8_t> device(const LegacyDevice& d) {
  std::vector<std::uint8_t> body = name_seg(d.name);
  // Name (_HID, EisaId (...))
  append(body, {0x08, '_', 'H', 'I', 'D', 0x0c});
  const std::uint32_t hid = eisa_id(d.hid);
  le::append(body, hid, 4);
  // Name (_UID, Zero)
  append(body, {0x08, '_', 'U', 'I', 'D', 0x00});
  // Name (_CRS, ResourceTemplate () { IO (Decode16, base, base, 1, len) IRQNoFlags () {irq} })
  std::vector<std::uint8_t> res = {0x47, 0x01, static_cast<std::uint8_t>(d.io_base), static_cast<std::uint8_t>(d.io_base >> 8),
                                   static_cast<std::uint8_t>(d.io_base), static_cast<std::uint8_t>(d.io_base >> 8), 0x01,
                                   static_cast<std::uint8_t>(d.io_length)};
  const std::uint16_t mask = static_cast<std::uint16_t>(1u << d.irq);
  append(res, {0x22, static_cast<std::uint8_t>(mask), static_cast<std::uint8_t>(mask >> 8), 0x79, 0x00});
  std::vector<std::uint8_t> buffer = {0x0a, static_cast<std::uint8_t>(res.size())};  // BufferSize: ByteConst
  append(buffer, res);
  append(body, {0x08, '_', 'C', 'R', 'S', 0x11});
  append(body, package(buffer));
  std::vector<std::uint8_t> out = {0x5b, 0x82};  // DeviceOp
  append(out, package(body));
  return out;
}
}  // namespace detail

// The tables, laid out from guest-physical `base`, as bytes to copy there.
inline std::vector<std::uint8_t> build(std::uint64_t base, int vcpus, const std::vector<LegacyDevice>& devices, Layout* layout = nullptr) {
  using namespace detail;
  // DSDT: Scope (\_SB) { devices }
  std::vector<std::uint8_t> dsdt = header("DSDT", 2);
  std::vector<std::uint8_t> scope_body = {'\\', '_', 'S', 'B', '_'};
  for (const LegacyDevice& d : devices) append(scope_body, device(d));
  dsdt.push_back(0x10);  // ScopeOp
  append(dsdt, package(scope_body));
  finish(dsdt);

  // MADT: local APIC address, PCAT_COMPAT, one local APIC per vCPU, the IOAPIC.
  std::vector<std::uint8_t> madt = header("APIC", 5);
  madt.resize(44, 0);
  le::put(madt, 36, 0xfee00000, 4);
  le::put(madt, 40, 1, 4);
  for (int i = 0; i < vcpus; ++i) append(madt, {0, 8, static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i), 1, 0, 0, 0});
  append(madt, {1, 12, static_cast<std::uint8_t>(vcpus), 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0});
  finish(madt);

  // Addresses: RSDP (36 bytes, padded to 48), XSDT, FADT, MADT, DSDT, each 16-byte aligned.
  Layout l;
  l.rsdp = base;
  l.xsdt = base + 48;
  const std::size_t xsdt_size = 36 + 8 * 2;
  l.fadt = (l.xsdt + xsdt_size + 15) & ~std::uint64_t{15};
  const std::size_t fadt_size = 276;
  l.madt = (l.fadt + fadt_size + 15) & ~std::uint64_t{15};
  l.dsdt = (l.madt + madt.size() + 15) & ~std::uint64_t{15};
  l.end = l.dsdt + dsdt.size();

  // FADT revision 6: hardware-reduced ACPI, the DSDT (both pointers), minor version 4.
  std::vector<std::uint8_t> fadt = header("FACP", 6);
  fadt.resize(fadt_size, 0);
  le::put(fadt, 40, l.dsdt, 4);                 // DSDT
  le::put(fadt, 112, 1u << 20, 4);              // Flags: HW_REDUCED_ACPI
  le::put(fadt, 131, 4, 1);                     // FADT minor version
  le::put(fadt, 140, l.dsdt, 8);                // X_DSDT
  std::memcpy(fadt.data() + 268, "CRUMBLVM", 8);  // hypervisor vendor identity
  finish(fadt);

  std::vector<std::uint8_t> xsdt = header("XSDT", 1);
  xsdt.resize(xsdt_size, 0);
  le::put(xsdt, 36, l.fadt, 8);
  le::put(xsdt, 44, l.madt, 8);
  finish(xsdt);

  std::vector<std::uint8_t> rsdp(36, 0);
  std::memcpy(rsdp.data(), "RSD PTR ", 8);
  std::memcpy(rsdp.data() + 9, "CRUMBL", 6);
  rsdp[15] = 2;                // revision: ACPI 2.0+
  le::put(rsdp, 20, 36, 4);        // length
  le::put(rsdp, 24, l.xsdt, 8);
  rsdp[8] = checksum(rsdp.data(), 20);
  rsdp[32] = checksum(rsdp.data(), 36);

  std::vector<std::uint8_t> out(l.end - base, 0);
  auto place = [&](std::uint64_t at, const std::vector<std::uint8_t>& t) { std::memcpy(out.data() + (at - base), t.data(), t.size()); };
  place(l.rsdp, rsdp);
  place(l.xsdt, xsdt);
  place(l.fadt, fadt);
  place(l.madt, madt);
  place(l.dsdt, dsdt);
  if (layout) *layout = l;
  return out;
}

}  // namespace crumble::vm::acpi

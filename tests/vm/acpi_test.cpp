// SPDX-License-Identifier: Apache-2.0
// tests/vm/acpi_test.cpp — the KVM engine's ACPI tables, checked by ACPICA's disassembler.
//
// Each table is written to a file and disassembled with `iasl -d` (acpica-tools, an independent
// implementation of the ACPI specification): it must disassemble without errors or checksum
// warnings, and the text must say what we meant (hardware-reduced FADT, one local APIC per vCPU,
// the UART's PNP id, port range and IRQ). Missing iasl: skipped with a message.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/kvm/acpi.hpp>
#include <crumble/vm/host/process.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = ::pclose(p);
  INFO(cmd << "\n" << out);
  REQUIRE(WIFEXITED(rc));
  REQUIRE(WEXITSTATUS(rc) == 0);
  return out;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("acpi: RSDP, XSDT, FADT, MADT and DSDT disassemble cleanly with iasl", "[vm][acpi]") {
  if (std::system("command -v iasl > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: iasl not found: apt-get install acpica-tools (scripts/setup.sh does)\n");
    std::exit(4);
  }
  struct Row {
    int vcpus;
  };
  for (const Row row : {Row{1}, Row{4}}) {
    INFO(row.vcpus << " vCPUs");
    const std::uint64_t base = 0xe0000;
    crumble::vm::acpi::Layout l;
    auto bytes = crumble::vm::acpi::build(base, row.vcpus, {{"COM1", "PNP0501", 0x3f8, 8, 4}}, &l);
    crumble::vm::TempDir dir("crumble-acpi-");
    auto table = [&](const char* name, std::uint64_t at) {
      const std::uint8_t* t = bytes.data() + (at - base);
      std::uint32_t len;
      std::memcpy(&len, t + (std::string(name) == "rsdp" ? 20 : 4), 4);
      std::ofstream(dir.path() / (std::string(name) + ".dat"), std::ios::binary).write(reinterpret_cast<const char*>(t), len);
      run("cd " + dir.path().string() + " && iasl -d " + name + ".dat");
      std::string dsl = read(dir.path() / (std::string(name) + ".dsl"));
      INFO(name << ":\n" << dsl);
      CHECK(dsl.find("Incorrect checksum") == std::string::npos);
      CHECK(dsl.find("Invalid") == std::string::npos);
      return dsl;
    };
    // iasl does not take an RSDP alone: its two checksums and the XSDT pointer are checked here.
    const std::uint8_t* rsdp = bytes.data() + (l.rsdp - base);
    CHECK(std::string(reinterpret_cast<const char*>(rsdp), 8) == "RSD PTR ");
    std::uint8_t sum20 = 0, sum36 = 0;
    for (int i = 0; i < 36; ++i) (i < 20 ? sum20 : sum36) += rsdp[i];
    CHECK(sum20 == 0);
    CHECK(static_cast<std::uint8_t>(sum20 + sum36) == 0);
    std::uint64_t xsdt_at;
    std::memcpy(&xsdt_at, rsdp + 24, 8);
    CHECK(xsdt_at == l.xsdt);
    const std::string xsdt = table("xsdt", l.xsdt);
    CHECK_THAT(xsdt, Catch::Contains("ACPI Table Address   0"));
    const std::string fadt = table("fadt", l.fadt);
    CHECK_THAT(fadt, Catch::Contains("Hardware Reduced (V5) : 1"));
    const std::string madt = table("madt", l.madt);
    std::size_t apics = 0;
    for (std::size_t at = madt.find("Processor Local APIC"); at != std::string::npos; at = madt.find("Processor Local APIC", at + 1)) ++apics;
    CHECK(apics == static_cast<std::size_t>(row.vcpus));
    CHECK_THAT(madt, Catch::Contains("I/O APIC"));
    const std::string dsdt = table("dsdt", l.dsdt);
    CHECK_THAT(dsdt, Catch::Contains("EisaId (\"PNP0501\")"));
    CHECK_THAT(dsdt, Catch::Contains("0x03F8"));
    CHECK_THAT(dsdt, Catch::Contains("IRQNoFlags ()"));
    CHECK_THAT(dsdt, Catch::Contains("{4}"));
  }
}

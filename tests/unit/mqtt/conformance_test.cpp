// Runs the data table tests/conformance/mqtt-3.1.1-codec.txt: one gtest case per row, named
// after the normative statement it checks (see the file's header for the format).
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace thingport::mqtt {
namespace {

struct row {
  int line = 0;
  std::string name;
  std::string options;
  std::string hex;
  std::string expect;
  std::string format_error; // non-empty when the row itself is broken
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<row> load_rows() {
  std::vector<row> rows;
  std::ifstream in(THINGPORT_CONFORMANCE_TABLE);
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    if (trim(text).empty() || trim(text).front() == '#')
      continue;
    row r;
    r.line = line;
    std::vector<std::string> cols;
    std::size_t pos = 0;
    for (std::size_t bar; (bar = text.find(" | ", pos)) != std::string::npos; pos = bar + 3)
      cols.push_back(trim(text.substr(pos, bar - pos)));
    cols.push_back(trim(text.substr(pos)));
    if (cols.size() != 4) {
      r.name = text;
      r.format_error = "expected 4 columns separated by ' | '";
    } else {
      r.name = cols[0];
      r.options = cols[1];
      r.hex = cols[2];
      r.expect = cols[3];
    }
    rows.push_back(r);
  }
  return rows;
}

const std::vector<row>& rows() {
  static const std::vector<row> all = load_rows();
  return all;
}

bool parse_options(const std::string& text, parser_options& o) {
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    if (w == "-")
      continue;
    if (w == "server") {
      o.side = parser_options::role::server;
    } else if (w == "client") {
      o.side = parser_options::role::client;
    } else if (w.starts_with("max_payload=")) {
      o.max_payload = std::stoul(w.substr(12));
    } else if (w.starts_with("max_remaining_length=")) {
      o.max_remaining_length = std::stoul(w.substr(21));
    } else {
      return false;
    }
  }
  return true;
}

class MqttConformance : public ::testing::TestWithParam<row> {};

TEST_P(MqttConformance, Row) {
  const row& r = GetParam();
  SCOPED_TRACE(std::string(THINGPORT_CONFORMANCE_TABLE) + ":" + std::to_string(r.line) + ": " +
               r.name);
  ASSERT_EQ(r.format_error, "");
  parser_options opts;
  ASSERT_TRUE(parse_options(r.options, opts)) << "bad options: " << r.options;
  const auto bytes = test::from_hex(r.hex);
  ASSERT_FALSE(bytes.empty()) << "bad hex: " << r.hex;

  // "error ERRC [connack=N|no-connack]", "packet TYPE", "need_more N"
  std::istringstream words(r.expect);
  std::string kind, what, connack;
  words >> kind >> what >> connack;
  const parse_result result = parse(bytes, opts);
  EXPECT_EQ(test::describe(result), kind + " " + what);

  if (kind == "packet" && result.state == parse_result::status::packet) {
    EXPECT_EQ(result.consumed, bytes.size());
    EXPECT_EQ(test::to_hex(test::as_bytes(test::encoded(result.pkt))), test::to_hex(bytes))
        << "does not re-encode to the same bytes";
  }
  if (connack == "no-connack") {
    EXPECT_EQ(connack_code_for(result.ec), std::nullopt);
  } else if (connack.starts_with("connack=")) {
    const auto code = connack_code_for(result.ec);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(static_cast<int>(*code), std::stoi(connack.substr(8)));
  } else {
    EXPECT_EQ(connack, "") << "unknown expectation";
  }
}

std::string row_name(const ::testing::TestParamInfo<row>& info) {
  std::string out;
  std::string_view name = info.param.name;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (name.substr(i).starts_with("\xc2\xa7")) { // '§'
      out += "Sec";
      ++i;
    } else if (std::isalnum(c)) {
      out.push_back(static_cast<char>(c));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_')
    out.pop_back();
  return "L" + std::to_string(info.param.line) + "_" + out;
}

INSTANTIATE_TEST_SUITE_P(Table, MqttConformance, ::testing::ValuesIn(rows()), row_name);

TEST(MqttConformanceTable, IsLoaded) {
  EXPECT_GE(rows().size(), 100u);
}

} // namespace
} // namespace thingport::mqtt

// The floor for `modctx check` on many files (bench/checker_many.py): read
// each file named on standard input (one path a line) and parse it as JSON
// with nlohmann, nothing else; a safetensors file's header is parsed. Prints
// the count of files parsed and not parsed. Built by the script itself:
//   c++ -O2 -std=c++17 bench/read_parse_baseline.cpp -o read_parse_baseline
#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

int main() {
  std::ios::sync_with_stdio(false);
  std::string path;
  long parsed = 0, failed = 0;
  size_t values = 0;  // uses each document, so that nothing is optimised away
  while (std::getline(std::cin, path)) {
    std::ifstream file(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const bool safetensors = path.size() > 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
    try {
      if (safetensors) {
        uint64_t n = 0;
        for (int i = 7; i >= 0 && bytes.size() >= 8; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
        if (bytes.size() < 8 || n > bytes.size() - 8) throw std::runtime_error("truncated");
        values += nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n)).size();
      } else {
        values += nlohmann::json::parse(bytes).size();
      }
      ++parsed;
    } catch (const std::exception&) {
      ++failed;
    }
  }
  std::cout << parsed << " parsed, " << failed << " not parsed, " << values << " top-level values\n";
  return 0;
}

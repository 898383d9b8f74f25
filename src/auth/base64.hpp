// Base64 (RFC 4648 §4, standard alphabet, '=' padding) for binary payloads in JSON (the API's, a
// session moving between nodes), through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, strictly (one
// spelling per value). Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace thingport::auth {

std::string base64_encode(std::string_view bytes);

// Strict: length a multiple of 4, padding only at the end, no whitespace, and the unused bits
// of the last symbol zero (so every text has one meaning). nullopt when the text is not that.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace thingport::auth

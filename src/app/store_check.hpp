// `thingport store check [--data DIR]`: verifies the databases of a data directory (SQLite's
// integrity check, and that each file is thingport's at a schema this build reads) without
// changing them. Run it on a stopped server or a copy.
#pragma once

#include <string>

namespace thingport::app {

// Prints one line per database ("ok" or the problems) and returns 0 when all are sound, 1 when
// one is damaged or foreign, 2 when the directory has no database at all.
int store_check_command(const std::string& data_dir);

} // namespace thingport::app

# The layer rule of docs/design.md as a test: each folder under src/ (and the SDK) may include
# only the layers listed for it below, so the MQTT core stays generic and the platform stays on
# top of it. Run: cmake -DROOT=<repo> -P cmake/layer_check.cmake (ctest runs it as layer_check).
cmake_minimum_required(VERSION 3.20)
set(allowed_mqtt "")
set(allowed_auth "mqtt")
set(allowed_thing "")
set(allowed_store "auth")
# The core sees only the session store's interface and the results every store returns.
set(allowed_broker "mqtt;store/result.hpp;store/session_store.hpp;store/session_writer.hpp")
set(allowed_platform "mqtt;auth;store;thing;broker")
set(allowed_net "broker")
set(allowed_api "mqtt;auth;store;thing;broker;platform")
# The cluster layer knows the core only through broker/bridge.hpp and its public broker.
# The link records of a dead node (cluster/link_table) use the PostgreSQL connection and migrations;
# a session moving between nodes carries its payloads in base64 (auth/base64.hpp); a dead node's
# sessions are taken over from the PostgreSQL session store (cluster/session_rescue).
set(allowed_cluster "mqtt;auth/base64.hpp;store/result.hpp;store/session_store.hpp;store/session_writer.hpp;store/pg_connection.hpp;store/sql_migrate.hpp;store/session_pg.hpp;broker")
set(allowed_app "mqtt;auth;store;thing;broker;platform;net;api;cluster")
set(allowed_sdk "mqtt;auth;thing;thingport")

set(bad 0)
foreach(layer mqtt auth thing store broker platform cluster net api app sdk)
  if(layer STREQUAL "sdk")
    file(GLOB_RECURSE files "${ROOT}/sdk/*.cpp" "${ROOT}/sdk/*.hpp")
  else()
    file(GLOB_RECURSE files "${ROOT}/src/${layer}/*.cpp" "${ROOT}/src/${layer}/*.hpp")
  endif()
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^#include \"[a-z_]+/")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^#include \"(([a-z_]+)/[^\"]*)\".*" "\\1" path "${line}")
      string(REGEX REPLACE "/.*" "" dep "${path}")
      if(dep STREQUAL layer)
        continue()
      endif()
      if(NOT dep IN_LIST allowed_${layer} AND NOT path IN_LIST allowed_${layer})
        file(RELATIVE_PATH rel "${ROOT}" "${f}")
        message(SEND_ERROR "${rel}: ${layer}/ may not include \"${path}\"")
        set(bad 1)
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "layer check failed (docs/design.md, Layers)")
endif()
message(STATUS "layer check: ok")

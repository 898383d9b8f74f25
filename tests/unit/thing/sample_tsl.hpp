// A thing model in the platform's export format, with every data type, the entries the
// platform generates itself (event "post", services "set" and "get"), a sync and an async
// service. Shared by the thing layer's tests.
#pragma once

#include <memory>
#include <string_view>

#include <gtest/gtest.h>

#include "thing/tsl.hpp"

namespace thingport::thing::test {

inline constexpr std::string_view sample_tsl = R"json({
  "schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
  "profile": {"version": "1.0", "productKey": "a1pk"},
  "properties": [
    {"identifier": "Counter", "name": "Counter", "accessMode": "rw", "required": false,
     "dataType": {"type": "int", "specs": {"min": "0", "max": "99999", "step": "1", "unit": "%"}}},
    {"identifier": "Temperature", "name": "T", "accessMode": "r",
     "dataType": {"type": "float", "specs": {"min": "-40", "max": "120", "step": "0.1"}}},
    {"identifier": "Humidity", "accessMode": "r",
     "dataType": {"type": "double", "specs": {"min": 0, "max": 100}}},
    {"identifier": "Label", "dataType": {"type": "text", "specs": {"length": "8"}}},
    {"identifier": "Installed", "dataType": {"type": "date", "specs": {}}},
    {"identifier": "LightSwitch", "dataType": {"type": "bool", "specs": {"0": "off", "1": "on"}}},
    {"identifier": "Mode", "dataType": {"type": "enum", "specs": {"0": "auto", "1": "manual", "5": "eco"}}},
    {"identifier": "Position", "dataType": {"type": "struct", "specs": [
      {"identifier": "x", "name": "x", "dataType": {"type": "int", "specs": {"min": "-10", "max": "10"}}},
      {"identifier": "label", "name": "l", "dataType": {"type": "text", "specs": {"length": "4"}}}]}},
    {"identifier": "Samples", "dataType": {"type": "array", "specs": {"size": "3",
      "item": {"type": "int", "specs": {"min": "0", "max": "9"}}}}},
    {"identifier": "Points", "dataType": {"type": "array", "specs": {"size": 2, "item": {"type": "struct",
      "specs": [{"identifier": "a", "name": "a", "dataType": {"type": "double", "specs": {"min": "0", "max": "1"}}}]}}}}
  ],
  "events": [
    {"identifier": "post", "name": "post", "type": "info", "required": true,
     "method": "thing.event.property.post",
     "outputData": [{"identifier": "Counter", "name": "Counter", "dataType": {"type": "int", "specs": {}}}]},
    {"identifier": "HardwareError", "name": "Hardware error", "type": "error",
     "method": "thing.event.HardwareError.post",
     "outputData": [
       {"identifier": "ErrorCode", "name": "c", "dataType": {"type": "enum", "specs": {"0": "ok", "1": "fan"}}},
       {"identifier": "time", "name": "t", "dataType": {"type": "int", "specs": {}}}]}
  ],
  "services": [
    {"identifier": "set", "name": "set", "required": true, "callType": "async",
     "method": "thing.service.property.set",
     "inputData": [{"identifier": "Counter", "name": "Counter", "dataType": {"type": "int", "specs": {}}}],
     "outputData": []},
    {"identifier": "get", "name": "get", "required": true, "callType": "async",
     "method": "thing.service.property.get", "inputData": ["Counter", "Temperature"], "outputData": []},
    {"identifier": "Reboot", "name": "Reboot", "callType": "sync", "method": "thing.service.Reboot",
     "inputData": [{"identifier": "delay", "name": "d", "dataType": {"type": "int", "specs": {"min": "0", "max": "60"}}}],
     "outputData": [{"identifier": "ok", "name": "ok", "dataType": {"type": "bool", "specs": {"0": "no", "1": "yes"}}}]},
    {"identifier": "Calibrate", "callType": "async", "inputData": [], "outputData": []}
  ]
})json";

inline std::shared_ptr<const thing_model> sample_model() {
  tsl_result r = parse_tsl(sample_tsl);
  EXPECT_TRUE(r) << r.error.path << ": " << r.error.message;
  return r.model;
}

} // namespace thingport::thing::test

#include "simulator.hpp"

int main(int argc, char** argv) {
  return thingport::device::sim::run(argc, argv);
}

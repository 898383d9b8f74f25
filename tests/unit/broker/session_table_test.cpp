// session_table: homes by id, and each session's backlog as routers on other workers see it
// (docs/lifecycles.md, Overload).
#include <gtest/gtest.h>

#include "broker/session_table.hpp"

namespace thingport::broker {
namespace {

TEST(SessionTable, TheBacklogIsTheQueueAndWhatIsOnItsWay) {
  session_table t;
  const auto id = t.allocate(1);
  EXPECT_EQ(t.add_transit(id), 0U); // returns the backlog before this delivery
  EXPECT_EQ(t.add_transit(id), 1U);
  t.set_queued(id, 10);
  EXPECT_EQ(t.queued(id), 10U); // a read: nothing counted
  EXPECT_EQ(t.add_transit(id), 12U);
  t.transit_done(id);
  t.transit_done(id);
  t.transit_done(id);
  t.transit_done(id); // one more than went: stays at zero
  EXPECT_EQ(t.add_transit(id), 10U);
}

TEST(SessionTable, AStaleIdNeitherReadsNorChangesTheSlotsNewSession) {
  session_table t;
  const auto old_id = t.allocate(0);
  t.set_queued(old_id, 7);
  EXPECT_EQ(t.add_transit(old_id), 7U);
  t.release(old_id);
  const auto new_id = t.allocate(0);
  ASSERT_EQ(static_cast<std::uint32_t>(new_id), static_cast<std::uint32_t>(old_id)); // reused
  ASSERT_NE(new_id, old_id);
  EXPECT_EQ(t.add_transit(old_id), 0U); // stale: nothing counted
  EXPECT_EQ(t.queued(old_id), 0U);
  t.set_queued(old_id, 99);
  t.transit_done(old_id);
  EXPECT_EQ(t.add_transit(new_id), 0U); // a fresh session starts empty
  EXPECT_EQ(t.add_transit(new_id), 1U);
}

} // namespace
} // namespace thingport::broker

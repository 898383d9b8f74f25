// What a batch of session operations leaves out before it reaches the store: a message entry
// that is put and deleted again within the batch (a QoS 1 message delivered and acknowledged
// while the previous commit was syncing) is neither written nor deleted, nor are its state
// changes in between, and a message whose every entry in the batch went that way is not stored
// either. The store ends as it would have had the batch been applied whole; the statements are
// saved (four or five per message delivered in time: the most a PostgreSQL session store pays).
//
// Only entries put with `fresh` (a seq the session never stored) cancel: a put that replaces a
// stored entry and its delete are both applied. A delete_session or delete_expired in the batch
// ends every pairing across it (the operations before it are applied as they are).
#pragma once

#include <cstddef>
#include <vector>

#include "store/session_store.hpp"

namespace thingport::store {

// Removes the cancelled operations from `ops`, keeping the order of the rest; returns how many
// it removed.
std::size_t coalesce(std::vector<session_op>& ops);

} // namespace thingport::store

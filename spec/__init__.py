"""The executable specification of the leader/follower (Raft) protocol."""

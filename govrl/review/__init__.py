"""Review: checklists, policies, the gate, status, the interview, diffs and scaffolds."""

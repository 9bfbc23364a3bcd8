"""What every part of Redline shares: errors, the sample frame's fields, label sets and selectors,
units (durations, money, times). The kernel imports nothing of Redline."""

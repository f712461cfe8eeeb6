"""File operations (upload, update, delete), recovery and cache maintenance; routes stay thin."""

"""Documents in: files, scraped pages, Parliament records (read and fetched), cleaning, members, topic."""

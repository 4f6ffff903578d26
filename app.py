"""Launch the sendsearch chat page on the bundled corpus: `python app.py`.

The index is built from corpus/ into index/ on the first run. Settings come from the
environment (see README): SENDSEARCH_INDEX, SENDSEARCH_HOST, SENDSEARCH_PORT, ...
"""

from sendsearch.serve.ui import main

if __name__ == "__main__":
    main()

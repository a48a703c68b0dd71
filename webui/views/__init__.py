"""The pages, a module per area. Each view reads what it shows in a bounded
number of queries and calls the same services as the API for anything that
changes state; its form (webui/forms/) parses what the browser sent and runs
the domain's rules (<app>/validation.py), never an API serializer."""

"""The pages' forms, a module per area. They parse what a browser sends;
every rule a save must pass is the domain's (<app>/validation.py), the same
for the API, the importer and the services."""

"""The borrower's rights over what the gateway holds: access history, export, deletion."""

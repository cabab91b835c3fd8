"""The borrower web portal: server-rendered shells and a small script over the borrower API."""

"""The operator CLI (contract: ``avatar-pipeline submit|batch|watch|jobs|costs``), for the local stack or a deployed
one."""

/* see the owner's notes at the top when filled */

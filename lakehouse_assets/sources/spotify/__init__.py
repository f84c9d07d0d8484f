"""The Spotify source: playlists and the user's top tracks from the Web API, weekly."""

bye

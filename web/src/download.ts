// Files the dashboard makes for people to keep (the CSV of the figures, of the stops).

/** Saves `blob` under `name`, as a link with `download` does when clicked. */
export function saveFile(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser reads the file after the click returns; a while later it is no longer needed.
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

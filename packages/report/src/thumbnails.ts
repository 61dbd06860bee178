/** Small JPEG data URIs of images on disk, for the misclassified gallery. */
import sharp from 'sharp';

/** A square JPEG thumbnail as a data URI, or null when the file is missing or not a readable image (the page shows a placeholder). */
export async function thumbnailDataUri(imagePath: string, size = 160): Promise<string | null> {
  try {
    const jpeg = await sharp(imagePath).rotate().resize(size, size, { fit: 'cover' }).jpeg({ quality: 82 }).toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return null;
  }
}
